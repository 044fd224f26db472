"""Running a stage script: user errors become one clear line and a non-zero exit."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from rewardpipe.allocator import keep_freed_memory
from rewardpipe.errors import UserError

CACHE_DIR = ".cache/jax"


def run(main: Callable[[], None]) -> None:
    """Call `main`; a UserError prints `error: ...` (no traceback) and exits 1. Stages that use
    JAX share a persistent compilation cache (`JAX_COMPILATION_CACHE_DIR`, default .cache/jax),
    so reruns and experiments skip recompiling the same shapes, and glibc keeps XLA's freed
    buffers for reuse (`allocator`)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    keep_freed_memory()
    if "jax" in sys.modules:
        import jax

        cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(Path(CACHE_DIR).absolute())
        jax.config.update("jax_compilation_cache_dir", cache)
    try:
        main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
