"""Python's cyclic garbage collector, kept out of the way of the batches.

A batch allocates tens of thousands of objects (decoded states, histories, records to send)
that live until the batch is written and are then freed by reference counting: none of them
is garbage only a cycle scan would find. Left alone, the collector scans them again and again
while the batch runs, promotes them to its oldest generation and then walks that whole
generation: measured on the benchmark (bench/PROFILE.md), full collections of 80-120 ms every
two seconds, about a fifth of a busy worker's time and every latency spike over 100 ms.

So the objects loaded at start (modules, Faust, the model) are frozen out of the collector's
sight once the worker runs, and the collector waits while a batch is decided and written: it
runs between batches, when the batch's objects are gone. Whatever cycles a batch leaves behind
are collected right after it, so memory stays bounded by one batch (and by ``MAX_PAUSE_S``
when a batch waits long on the Kafka client).

Still needed with the per-event records as msgspec Structs the collector never tracks
(``gc=False``): the batch's lists, the decoded histories and changes, the outbox and the
tables' dicts are still tracked. bench.topology's pipeline, 20,000 events, frozen at start but
not paused: 0.2.0 1,170 young and 9 full collections, the latter 254 ms each on average; now
568 and 4, of 45-72 ms each (two runs): a full collection still costs more than the whole p99
latency target; paused per batch, 7 young collections and no full one (bench/PROFILE.md).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streams.worker import metrics


def freeze_loaded_objects() -> None:
    """Everything alive now is never scanned again (it is still freed when no longer referenced)."""
    gc.collect()
    gc.freeze()


class PauseTimer:
    """Times every collection into ``leadstream_gc_pause_seconds``: a pause holds every task of the worker."""

    def __init__(self) -> None:
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            metrics.GC_PAUSES.labels(generation=str(info["generation"])).observe(time.perf_counter() - self._started)


def time_pauses() -> None:
    if not any(isinstance(callback, PauseTimer) for callback in gc.callbacks):
        gc.callbacks.append(PauseTimer())


# A batch is decided and written in well under a second; one waiting longer is waiting on the
# Kafka client (a broker away, say), while the web server, timers and client retries go on
# allocating. Past this, the collector runs again, so nothing piles up for the whole outage.
MAX_PAUSE_S = 5.0


@contextmanager
def gc_paused(max_pause_s: float = MAX_PAUSE_S) -> Iterator[None]:
    """No cycle collection inside the block, for at most ``max_pause_s`` of an event loop's time.

    A caller that paused the collector already keeps it paused, and its own bound applies.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        resume = asyncio.get_running_loop().call_later(max_pause_s, gc.enable)
    except RuntimeError:  # no event loop: nothing can wait inside the block
        resume = None
    try:
        yield
    finally:
        if resume is not None:
            resume.cancel()
        gc.enable()
