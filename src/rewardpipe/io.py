"""Atomic file output and line-numbered JSONL input."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rewardpipe.errors import UserError


def _temp_name(path: Path) -> Path:
    """A fresh hidden name beside `path`; created with the umask's ordinary permissions."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete what a killed run left beside `path`: `_temp_name` files or folders and the `.old`
    folder of `atomic_dir`. Only those exact names are touched; returns what was removed."""
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:[0-9a-f]{{12}}\.tmp|old)")
    removed = []
    for entry in path.parent.iterdir():
        if not pattern.fullmatch(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    return removed


def _start(path: Path, *, folder: bool) -> tuple[Path, list[Path]]:
    """Create the temp beside `path`, and the parent folders it lacks (returned, so that a failed
    run removes them again); a place that cannot be written is a UserError."""
    if not folder and path.is_dir():
        raise UserError(f"{path}: is a folder (expected a file path)")
    existing = next((p for p in path.parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"{path}: {existing} is a file, not a folder")
    made = [p for p in path.parents if not p.exists()]  # deepest first
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        tmp = _temp_name(path)
        if folder:
            tmp.mkdir()  # not mkdtemp: its 0700 mode would stick to the output
        else:
            tmp.touch(exist_ok=False)  # not mkstemp: its 0600 mode would stick to the output
    except OSError as exc:
        _remove_empty(made)
        raise UserError(f"{path}: cannot write here ({exc.strerror or exc})") from exc
    return tmp, made


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _name_final(exc: UserError, tmp: Path, path: Path) -> None:
    """A message about the temp names `path`, the output the user will look for."""
    exc.args = tuple(a.replace(tmp.name, path.name) if isinstance(a, str) else a for a in exc.args)


def _replace(src: Path, dst: Path, final: Path) -> None:
    try:
        os.replace(src, dst)
    except OSError as exc:
        raise UserError(f"{final}: cannot write here ({exc.strerror or exc})") from exc


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success rename it over `path`, else delete it (and the
    parent folders it made). An unwritable `path` is a UserError before the body runs; one the
    body raises names `path`, not the temp."""
    path = Path(path)
    tmp, made = _start(path, folder=False)
    done = False
    try:
        yield tmp
        _replace(tmp, path, path)
        done = True
    except UserError as exc:
        _name_final(exc, tmp, path)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if not done:
            _remove_empty(made)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temp folder beside `path`; on success it replaces `path` whole, else it is deleted
    (and the parent folders it made). An unwritable `path` is a UserError before the body runs;
    one the body raises names `path`, not the temp."""
    path = Path(path)
    tmp, made = _start(path, folder=True)
    done = False
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            _replace(path, old, path)
            try:
                _replace(tmp, path, path)
            except UserError:
                os.replace(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            _replace(tmp, path, path)
        done = True
    except UserError as exc:
        _name_final(exc, tmp, path)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            _remove_empty(made)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_text(path: str | Path) -> str:
    """A UTF-8 text file; bad bytes raise `file:line: expected UTF-8 text`."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise UserError(f"{path}: file not found") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{path}:{line}: expected UTF-8 text ({exc.reason})") from exc


def read_json(path: str | Path) -> Any:
    try:
        return json.loads(read_text(path))
    except FileNotFoundError as exc:
        raise UserError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; a bad line raises `file:line: ...`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    with path.open("rb") as f:
        for i, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UserError(
                    f"{path}:{i}: expected UTF-8 text ({exc.reason} at byte {exc.start} of the line)"
                ) from exc
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{i}: not valid JSON: {exc.msg}") from exc
            if not isinstance(row, dict):
                raise UserError(f"{path}:{i}: expected a JSON object, got {type(row).__name__}")
            if "\\ud" in line.lower():  # a \uD800-\uDFFF escape can decode to a lone surrogate
                _check_text(row, f"{path}:{i}")
            yield i, row


def _check_text(value: Any, where: str, field: str = "") -> None:
    """Every string in a parsed JSON value is encodable text (no lone surrogates)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where, field)
            _check_text(item, where, f"{field}.{key}" if field else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_text(item, where, f"{field}[{n}]")
    elif isinstance(value, str) and (why := invalid_text(value)):
        raise UserError(f"{where}: {field or 'key'}: {why}")


def invalid_text(text: Any) -> str | None:
    """Why a tokenizer (or a UTF-8 writer) cannot take `text`, or None when it can."""
    if not isinstance(text, str):
        return f"expected a string, got {type(text).__name__}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"not valid Unicode text (lone surrogate {text[exc.start]!r} at character {exc.start})"
        )
    return None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (see `iter_jsonl` for the errors)."""
    return [row for _, row in iter_jsonl(path)]
