"""Deterministic hash-based split assignment: stable for a seed, stable when rows are appended."""

from __future__ import annotations

import hashlib
import re


def fold(text: str) -> str:
    """Whitespace-folded text: the key for duplicates and train/test leakage."""
    return re.sub(r"\s+", " ", text).strip()


def unit_hash(key: str, seed: int) -> float:
    """A uniform number in [0, 1) from the key and the seed."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def stable_id(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:12]}"


def assign(prompt: str, fractions: tuple[float, ...], names: tuple[str, ...], seed: int) -> str:
    """Pick a split name for a prompt by where its hash falls in the cumulative fractions."""
    total = sum(fractions)
    u = unit_hash(fold(prompt), seed) * total
    acc = 0.0
    for name, frac in zip(names, fractions, strict=True):
        acc += frac
        if u < acc:
            return name
    return names[-1]
