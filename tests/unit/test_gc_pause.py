"""The worker's control of Python's garbage collector: paused for a batch, resumed after, every pause timed."""

from __future__ import annotations

import asyncio
import gc

import pytest

from streams.worker import metrics
from streams.worker.gc_pause import PauseTimer, gc_paused, freeze_loaded_objects


def test_the_collector_resumes_after_the_block_even_when_it_raises():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("a batch failed")
    assert gc.isenabled()


def test_a_gc_paused_by_the_caller_stays_paused_after_the_block():
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_frozen_objects_are_no_longer_scanned_but_garbage_made_later_still_is():
    try:
        freeze_loaded_objects()
        assert gc.get_freeze_count() > 0
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # a cycle made after the freeze is still found
    finally:
        gc.unfreeze()


def test_each_collection_is_timed_by_its_generation():
    def observed(generation: str) -> float:
        return metrics.REGISTRY.get_sample_value("leadstream_gc_pause_seconds_count", {"generation": generation}) or 0.0

    timer = PauseTimer()
    gc.callbacks.append(timer)
    try:
        before = observed("2")
        gc.collect(2)
        assert observed("2") == before + 1
    finally:
        gc.callbacks.remove(timer)


async def test_a_batch_that_waits_too_long_lets_the_collector_run_again():
    with gc_paused(max_pause_s=0.01):
        assert not gc.isenabled()
        await asyncio.sleep(0.05)  # a batch waiting on a broker that is away
        assert gc.isenabled()
    assert gc.isenabled()


async def test_a_batch_done_in_time_leaves_no_timer_behind():
    with gc_paused(max_pause_s=0.05):
        pass
    gc.disable()
    try:
        await asyncio.sleep(0.1)
        assert not gc.isenabled()  # the cancelled timer did not turn it back on under someone else
    finally:
        gc.enable()
