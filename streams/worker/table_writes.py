"""Table writes made at once in memory, their changelog records sent through the outbox with the batch."""

from __future__ import annotations

from streams.worker.context import Outbox, StoredTable


def keeps_summaries(table: StoredTable) -> bool:
    """Whether the table's store keeps a summary beside each value (streams/worker/state_store.py)."""
    return hasattr(table.data, "set_with_summary")


class TableWrites:
    """Each write lands in the table's store now; its changelog record leaves at ``produce``.

    Faust's own ``table[key] = value`` queues the changelog record in a buffer that a commit's
    flush can leave non-empty (it gives up after 0.1 s without progress, and cannot see a
    record a background task has taken but not yet handed to the client), so an offset could
    be committed for an event whose state change was never produced. Here the batch awaits
    every record's hand-over to the outbox (the Kafka client, in a worker) before its events
    are acked, and a commit flushes the client. Each record goes to its key's own partition
    (the producer's partitioner, as ``use_partitioner`` in streams/worker/tables.py).
    """

    def __init__(self) -> None:
        # Per table and key, its last value only: a key written twice in a batch (a visitor's
        # second anonymous event, say) costs one changelog record, as recovery keeps the last anyway.
        self._pending: dict[tuple[str, bytes], tuple[StoredTable, bytes | None, bytes | None]] = {}

    def set(self, table: StoredTable, key: bytes, value: bytes, summary: bytes | None = None) -> None:
        """``summary``: what the store keeps beside the value, where it keeps one (``keeps_summaries``)."""
        if summary is not None:
            table.data.set_with_summary(key, value, summary)  # type: ignore[attr-defined]
        else:
            table.data[key] = value
        self._pending[table.name, key] = (table, value, summary)

    def delete(self, table: StoredTable, key: bytes) -> None:
        if table.data.pop(key, None) is not None:
            self._pending[table.name, key] = (table, None, None)  # a tombstone: the changelog forgets it too

    async def produce(self, outbox: Outbox) -> None:
        pending, self._pending = self._pending, {}
        for (_, key), (table, value, summary) in pending.items():
            # On RocksDB the write reaches the disk when Kafka holds its record (streams/worker/state_store.py).
            delivered = getattr(table.data, "changelog_delivered", None)
            if delivered is None:
                await outbox.send(table.changelog, key, value)
            else:
                await outbox.send(table.changelog, key, value, delivered=delivered(key, value, summary))
