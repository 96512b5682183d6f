"""Each owned key's summary for a recount: read where the store keeps them beside the values, else made anew.

On RocksDB a table registered in ``streams.worker.state_store.SUMMARIZERS`` keeps each key's summary
in the same database as its value, so a recount after a recovery reads small summaries instead of
decoding every value; the memory store keeps none, and its recovery read every value anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from prometheus_client import Counter

from streams.contracts.partitioning import partition_for

Summary = TypeVar("Summary")


def owned_summaries(store: object, active: set[int], partitions: int, read: Callable[[bytes], Summary | None],
                    remake: Callable[[bytes, bytes], Summary], remade: Counter) -> Iterator[tuple[bytes, int, Summary]]:
    """(key, partition, summary) of every key of the partitions in ``active``.

    ``read`` turns a stored summary into one (None: unusable, say made under another model);
    ``remake`` makes one from the key's value, counted in ``remade``.
    """
    stored = getattr(store, "summaries", None)
    if stored is None:
        for key, record in list(store.items()):  # type: ignore[attr-defined]
            if (partition := partition_for(key, partitions)) in active and record:
                remade.inc()
                yield key, partition, remake(key, record)
        return
    for key, partition, row in stored(active):  # the store knows each key's partition: no hashing a million keys
        summary = read(row) if row is not None else None
        if summary is None:  # unusable, or written without one
            if not (record := store.get(key)):  # type: ignore[attr-defined]
                continue
            remade.inc()
            summary = remake(key, record)
        yield key, partition, summary
