"""Where a pretrained checkpoint lives: a local folder, or a Hugging Face Hub repo id fetched
into the Hub cache (pinned by a revision) with `huggingface_hub.snapshot_download`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardpipe.errors import UserError

# What a backbone needs of a Hub repo: config, weights (single or sharded), tokenizer files.
BACKBONE_FILES = (
    "config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
    "vocab.txt",
    "README.md",
)


def looks_like_path(name: str) -> bool:
    """A Hub id is `name` or `namespace/name`; anything else can only be a local path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def is_hub_id(name: str) -> bool:
    """Not an existing local path, and shaped like a Hub id."""
    return not Path(name).exists() and not looks_like_path(name)


def resolve(
    name: str,
    revision: str | None = None,
    *,
    allow_patterns: Sequence[str] = BACKBONE_FILES,
    **kwargs: Any,
) -> Path:
    """The local folder `name`, or the Hub repo `name` at `revision` (branch, tag or commit;
    None: the default branch) downloaded into the Hub cache; offline (`HF_HUB_OFFLINE=1`) it
    must already be cached. `kwargs` go to `snapshot_download` (e.g. `cache_dir`, `endpoint`)."""
    if not is_hub_id(name):
        if not Path(name).exists():
            raise UserError(f"{name}: folder not found")
        if revision is not None:
            raise UserError(
                f"{name}: a revision ({revision!r}) applies to a Hub repo id, not a local folder"
            )
        return Path(name)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(
                name, revision=revision, allow_patterns=list(allow_patterns), **kwargs
            )
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, ValueError, OSError) as exc:
        at = f" at revision {revision!r}" if revision else ""
        raise UserError(
            f"{name}{at}: not a local folder and could not be downloaded from the Hub "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def commit_of(folder: Path) -> str | None:
    """The commit of a Hub cache snapshot folder (`.../snapshots/<commit>`), else None."""
    parts = folder.resolve().parts
    if len(parts) >= 2 and parts[-2] == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", parts[-1]):
        return parts[-1]
    return None


def local(model: Any, **kwargs: Any) -> Any:
    """A model params section whose `pretrained` is a local folder: a Hub id is resolved (see
    `resolve`) at `model.revision`; a folder or None is returned as it is."""
    if not model.pretrained or not is_hub_id(model.pretrained):
        return model
    folder = resolve(model.pretrained, model.revision, **kwargs)
    return dataclasses.replace(model, pretrained=str(folder), revision=None)
