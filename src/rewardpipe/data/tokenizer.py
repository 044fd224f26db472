"""The tokenizer: a byte-level BPE trained on the training text, or a pretrained backbone's."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from rewardpipe.errors import UserError
from rewardpipe.params import NUMBERS

PAD, SEP, CLS = "<pad>", "<sep>", "<cls>"
SPECIAL_TOKENS = [PAD, SEP, CLS]

# GPT-2's pre-tokenization pattern, except that a number never takes the space before it (the
# token before it does): "is 15" and "15*3" then hold the same token for 15, which a model can
# match by identity (is the final answer the value just computed? is this the question's 15?).
_WHOLE_NUMBERS = (
    r"'(?:s|t|re|ve|m|ll|d)| ?\p{L}+(?: (?=\p{N}))?|\p{N}+"
    r"| ?[^\s\p{L}\p{N}]+(?: (?=\p{N}))?|\s+(?!\S)|\s+"
)


def pre_tokenizer(numbers: str) -> pre_tokenizers.PreTokenizer:
    """Byte-level pre-tokenization; `numbers`: `whole` (a number is the same tokens wherever it
    stands), `digits` (one token per digit, as Llama and Qwen) or `bpe` (GPT-2's, where " 15"
    and "15" are different tokens)."""
    if numbers == "whole":
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(_WHOLE_NUMBERS), "isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    if numbers == "digits":
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    if numbers == "bpe":
        return byte_level
    raise UserError(f"numbers: expected one of {' | '.join(NUMBERS)}, got {numbers!r}")


def train_bpe(texts: Iterable[str], vocab_size: int, numbers: str = "bpe") -> Tokenizer:
    """Byte-level BPE with `<pad>`=0, `<sep>`, `<cls>`; deterministic for the same texts."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizer(numbers)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def load_pretrained(folder: str | Path) -> Tokenizer:
    """A pretrained backbone's `tokenizer.json`."""
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise UserError(
            f"{path}: not found (model.pretrained must be a folder with tokenizer.json)"
        )
    return Tokenizer.from_file(str(path))
