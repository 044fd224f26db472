"""Where raw rows come from: the built-in generator, the Hugging Face Hub, or local files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardpipe.data import synthetic
from rewardpipe.errors import UserError
from rewardpipe.io import iter_jsonl, read_text

FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
SPLIT_NAMES = {
    "train": "train",
    "test": "test",
    "validation": "val",
    "valid": "val",
    "val": "val",
    "dev": "val",
}
SYNTHETIC_TEST_OFFSET = 10_000_000


@dataclass
class RawSplit:
    """Rows of one split and where they came from (for `file:row` messages)."""

    name: str
    origin: str
    rows: list[dict[str, Any]]


def load_synthetic(n_train: int, n_test: int, seed: int) -> list[RawSplit]:
    return [
        RawSplit("train", "synthetic:train", synthetic.generate(n_train, seed)),
        RawSplit("test", "synthetic:test", synthetic.generate(n_test, seed, SYNTHETIC_TEST_OFFSET)),
    ]


def load_hub(name: str, config: str | None, revision: str | None = None) -> list[RawSplit]:
    """`datasets.load_dataset(name, config, revision=...)`; a clear message when the Hub is out of
    reach. Pin `revision` (prepare.hub_revision) for a reproducible download."""
    import datasets

    try:
        dd = datasets.load_dataset(name, config, revision=revision)
    except Exception as exc:  # network, auth, missing dataset: all end the same way for the user
        raise UserError(
            f"could not load {name!r} (config {config!r}) from the Hugging Face Hub: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}\n"
            "Offline or no access? Use local files instead: "
            "-S prepare.source=local -S prepare.path=<file or folder with train/test files>"
        ) from exc
    return [
        RawSplit(SPLIT_NAMES.get(split, split), f"hub:{name}/{split}", [dict(r) for r in ds])
        for split, ds in dd.items()
    ]


def find_split_files(path: Path) -> dict[str, Path]:
    """Map split name -> file for a folder, or `{"train": file}` for a single file."""
    if path.is_file():
        _format_of(path)
        return {"train": path}
    if not path.is_dir():
        raise UserError(f"{path}: prepare.path does not exist (expected a file or a folder)")
    found: dict[str, Path] = {}
    for file in sorted(path.iterdir()):
        if file.suffix.lower() not in FORMATS:
            continue
        split = SPLIT_NAMES.get(file.stem.lower().split(".")[0].split("-")[0])
        if split is None:
            continue
        if split in found:
            raise UserError(
                f"{path}: two files for split {split!r}: {found[split].name}, {file.name}"
            )
        found[split] = file
    if "train" not in found:
        raise UserError(
            f"{path}: no train file found (expected train.jsonl / train.json / train.csv / "
            "train.parquet, optionally test.* and validation.*)"
        )
    return found


def _format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path}: unsupported file type (expected {', '.join(FORMATS)})")
    return fmt


def load_local(path: str | Path) -> list[RawSplit]:
    """Load every split file under `path` with `datasets`."""
    return [
        RawSplit(split, str(file), load_file(file))
        for split, file in find_split_files(Path(path)).items()
    ]


def load_file(path: Path) -> list[dict[str, Any]]:
    """One JSONL / JSON / CSV / Parquet file as rows; a malformed JSON line names its row."""
    import datasets

    fmt = _format_of(path)
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    if fmt == "json":
        _check_json_lines(path)
    try:
        # A local file, not a Hub repo: there is no revision to pin.
        ds = datasets.load_dataset(fmt, data_files=str(path), split="train")  # nosec B615
    except Exception as exc:
        raise UserError(f"{path}: could not be read as {fmt}: {type(exc).__name__}: {exc}") from exc
    return [dict(r) for r in ds]


def _check_json_lines(path: Path) -> None:
    """Find the first malformed line ourselves: `datasets` reports none (and fails on no rows)."""
    text = read_text(path)
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
        if not rows:
            raise UserError(f"{path}: empty file (an empty JSON list)")
        return
    if sum(1 for _ in iter_jsonl(path)) == 0:  # reads every line: the first bad one raises
        raise UserError(f"{path}: empty file (no JSON lines)")


def content_hash(splits: list[RawSplit]) -> str:
    """sha256 over every row of every split, in order (recorded in stats.json)."""
    h = hashlib.sha256()
    for split in splits:
        h.update(split.name.encode())
        for row in split.rows:
            h.update(json.dumps(row, sort_keys=True, default=str).encode())
    return h.hexdigest()


def load_source(
    source: str,
    *,
    path: str | None,
    hub_name: str,
    hub_config: str | None,
    hub_revision: str | None = None,
    n_train: int,
    n_test: int,
    seed: int,
) -> list[RawSplit]:
    """Dispatch on `prepare.source`."""
    if source == "synthetic":
        return load_synthetic(n_train, n_test, seed)
    if source == "hub":
        return load_hub(hub_name, hub_config, hub_revision)
    if source == "local":
        if not path:
            raise UserError("prepare.path: expected a file or folder when prepare.source is local")
        return load_local(path)
    raise UserError(f"prepare.source: expected synthetic | hub | local, got {source!r}")
