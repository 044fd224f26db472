"""Step-level encoding for process reward models: token ids plus, per step, the position whose
hidden state the head reads (the step's separator / last token).

- `Encoder` backbones (scratch transformer, BERT): `[cls] prompt [sep] step_1 [sep] ... step_k
  [sep]`; the separator is the tokenizer's sep token, read at each step's own `[sep]`.
- `PromptEncoder` backbones (decoders): the chat-formatted text with the steps joined by "\\n"
  as the solution; a causal model reads each step at the token holding the step's last
  character (separator "\\n", the text between steps).

Too long a sequence keeps its end for `Encoder` (the prompt is cut from its start, then the
earliest steps) and its start for decoders; a step whose read position is cut gets -1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardpipe.encoding import Encoder, PromptEncoder, check_texts
from rewardpipe.errors import UserError

DECODER_SEPARATOR = "\n"


class StepEncoder:
    """Wraps a solution-level encoder; `encode` -> (ids per row, read positions per row)."""

    def __init__(self, encoder: Encoder | PromptEncoder):
        self.encoder = encoder
        self.max_len = encoder.max_len
        self.specials = encoder.specials

    @property
    def separator(self) -> str:
        """What ends each step: the sep token's text, or the decoder's "\\n" (for config.json)."""
        if isinstance(self.encoder, PromptEncoder):
            return DECODER_SEPARATOR
        return self.encoder.tokenizer.id_to_token(self.specials.sep)

    def encode(
        self, prompts: Sequence[str], steps: Sequence[Sequence[str]]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if len(prompts) != len(steps):
            raise UserError(f"{len(prompts)} prompts but {len(steps)} step lists")
        for i, row in enumerate(steps):
            if not row:
                raise UserError(f"input {i}: steps: expected at least one step")
            check_texts([prompts[i]] * len(row), list(row))
        if isinstance(self.encoder, PromptEncoder):
            return self._decoder(prompts, steps)
        return self._encoder(prompts, steps)

    def _encoder(self, prompts, steps):
        enc, s = self.encoder, self.specials
        ids_p = enc._ids(list(prompts))
        out_ids, out_pos = [], []
        for p, row in zip(ids_p, steps, strict=True):
            sol: list[int] = []
            ends = []
            for step_ids in enc._ids(list(row)):
                sol += [*step_ids, s.sep]
                ends.append(len(sol) - 1)
            budget = self.max_len - 2  # cls + the sep after the prompt
            cut = max(0, len(sol) - budget)
            sol = sol[cut:]
            p = p[len(p) - (budget - len(sol)) :] if budget - len(sol) > 0 else []
            offset = 2 + len(p) - cut
            out_ids.append(np.asarray([s.cls, *p, s.sep, *sol], dtype=np.int32))
            out_pos.append(np.asarray([e + offset if e >= cut else -1 for e in ends], np.int32))
        return out_ids, out_pos

    def _decoder(self, prompts, steps):
        fmt = self.encoder.format
        out_ids, out_pos = [], []
        for prompt, row in zip(prompts, steps, strict=True):
            solution = DECODER_SEPARATOR.join(row)
            text = fmt.format(prompt, solution)
            start = text.rfind(solution)
            if start < 0:
                raise UserError("chat template: the solution does not appear in the formatted text")
            add_special = fmt._compiled is None and not (
                fmt.bos_token and text.startswith(fmt.bos_token)
            )
            enc = fmt.tokenizer.encode(text, add_special_tokens=add_special)
            ends, pos = [], start
            for step in row:
                pos += len(step)
                ends.append(pos - 1)  # the step's last character
                pos += len(DECODER_SEPARATOR)
            positions = [_token_at(enc.offsets, c) for c in ends]
            ids = enc.ids[: self.max_len]
            out_ids.append(np.asarray(ids, dtype=np.int32))
            out_pos.append(
                np.asarray([q if 0 <= q < len(ids) else -1 for q in positions], np.int32)
            )
        return out_ids, out_pos


def _token_at(offsets: Sequence[tuple[int, int]], char: int) -> int:
    """Index of the last token whose character span starts at or before `char`."""
    best = -1
    for i, (a, b) in enumerate(offsets):
        if b > a and a <= char:
            best = i
    return best
