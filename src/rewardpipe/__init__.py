"""rewardpipe: a reproducible reward-model pipeline (prepare, train, evaluate, publish)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rewardpipe")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"
