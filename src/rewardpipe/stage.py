"""Running a stage script: user errors become one clear line and a non-zero exit."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from rewardpipe.errors import UserError


def run(main: Callable[[], None]) -> None:
    """Call `main`; a UserError prints `error: ...` (no traceback) and exits 1."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
