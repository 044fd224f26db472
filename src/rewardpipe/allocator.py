"""glibc malloc settings under which XLA on CPU reuses its buffers instead of page-faulting them.

XLA's CPU runtime allocates each executable's temporary buffer (130-450 MB for a training step of
the reference model) with posix_memalign from its worker threads. glibc serves a block that size
with a fresh mmap (a thread's arena cannot grow past 64 MB and falls back to mmap whatever
M_MMAP_MAX says) and unmaps it on free, so every step faults all of it in again: 10 M page faults
and a third of the CPU time in the kernel over 150 steps. One arena, no mmap and no trimming keep
those pages mapped and reused (0.4 M faults; a step 26 % faster). The price: compiles run about
30 % slower (LLVM's allocations share the one arena), so compile-bound work such as the unit tests
is better off without it.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1))


def keep_freed_memory() -> bool:
    """Apply `SETTINGS` with mallopt; call before JAX starts its threads (they pick their arena on
    their first allocation). False, changing nothing, where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: its C library's
    except (AttributeError, OSError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS)
