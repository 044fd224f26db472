"""The tokenizer: a byte-level BPE trained on the training text, or a pretrained backbone's."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from rewardpipe.errors import UserError

PAD, SEP, CLS = "<pad>", "<sep>", "<cls>"
SPECIAL_TOKENS = [PAD, SEP, CLS]


def train_bpe(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """Byte-level BPE with `<pad>`=0, `<sep>`, `<cls>`; deterministic for the same texts."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
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
