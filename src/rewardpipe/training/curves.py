"""The dvclive folder as a snapshot stored in each checkpoint, so curves always describe the
model they sit beside: a resumed run starts from the curves of the checkpoint it resumes."""

from __future__ import annotations

import shutil
from pathlib import Path

SUMMARY = "metrics.json"


def snapshot(directory: str | Path) -> dict[str, str]:
    """`{relative path: text}` of the summary and every TSV under `directory`."""
    root = Path(directory)
    files = [root / SUMMARY, *sorted(root.glob("plots/metrics/**/*.tsv"))]
    return {
        f.relative_to(root).as_posix(): f.read_text(encoding="utf-8") for f in files if f.exists()
    }


def restore(directory: str | Path, files: dict[str, str] | None) -> None:
    """Replace `directory` by a snapshot (None or {}: start empty)."""
    root = Path(directory)
    shutil.rmtree(root, ignore_errors=True)
    for name, text in (files or {}).items():
        path = root / name
        if path.resolve().is_relative_to(root.resolve()):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
