"""After a recount the worker hands the freed heap back to the system (glibc keeps it otherwise)."""

from __future__ import annotations

import platform

import pytest

from streams.worker.memory_release import release_free_memory


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_freed_blocks_between_survivors_go_back_to_the_system():
    before = _resident_mb()
    # Kilobyte records read and dropped, a few kept: glibc alone keeps every page they spanned.
    burst = [bytes(1_000) + bytes([index % 256]) for index in range(100_000)]
    survivors = burst[::64]
    del burst
    held = _resident_mb()
    assert release_free_memory()
    assert _resident_mb() - before < (held - before) / 2
    assert len(survivors) == 1_563
