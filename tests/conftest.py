"""Shared test setup: offline environment, repo paths, the small hand-written fixture files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Offline and quiet before any test module imports `datasets` / `huggingface_hub`.
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DVC_NO_ANALYTICS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    """The folder of small hand-written input files (one per dataset kind)."""
    return FIXTURES


@pytest.fixture
def repo() -> Path:
    return REPO
