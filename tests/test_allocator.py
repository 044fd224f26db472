"""allocator: after keep_freed_memory a thread's large freed block is reused, not faulted in."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from rewardpipe.allocator import keep_freed_memory

# A worker thread allocates, touches and frees 256 MB twice (as XLA's CPU runtime does with an
# executable's temporary buffer); prints the minor page faults of the second round.
SCRIPT = textwrap.dedent(
    """
    import resource, sys, threading
    if sys.argv[1] == "keep":
        from rewardpipe.allocator import keep_freed_memory
        assert keep_freed_memory()
    def touch():
        block = bytearray(256 * 2**20)  # malloc + memset: every 4 KB page written
        del block
    def faults():
        t = threading.Thread(target=touch); t.start(); t.join()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    first = faults()
    print(faults() - first)
    """
)


def second_round_faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_freed_large_block_is_reused_instead_of_faulted_in_again():
    pages = 256 * 2**20 // 4096
    assert second_round_faults("default") > pages // 2  # unmapped on free, faulted in again
    assert second_round_faults("keep") < pages // 20


def test_keep_freed_memory_reports_whether_it_applied():
    assert keep_freed_memory() is sys.platform.startswith("linux")
