"""Every table the app keeps, declared once. All state lives here, backed by changelogs."""

from __future__ import annotations

from typing import Any

from streams.worker.app import app

# Raw bytes on both sides, so keys read back from the changelog on recovery equal the keys
# written, and the value codec stays ours (streams/contracts/lead_records.py and its siblings). Faust picks its codec from
# key_type/value_type (bytes -> raw); a Schema alone would leave the changelog on JSON, and
# recovery would then fail to decode a single key.
#
# use_partitioner: a key's changelog record goes to the key's own partition (Kafka's default
# partitioner, the same murmur2 as streams.contracts.partitioning), not to the partition of whichever
# event Faust considers current. The pipeline writes each key once per batch, and a batch
# spans partitions: without it a write could land on another partition and recovery would be
# corrupt.
# Lead id -> its state and its history (the board's timeline), one record (streams/contracts/lead_records.py encode_lead):
# a crash can never leave the two apart, and each scored lead costs one changelog record per batch.
leads_table = app.Table("leads", key_type=bytes, value_type=bytes, use_partitioner=True)

# Lead id -> when it was erased and what was erased. Kept so that events arriving for an
# erased lead are ignored (reason erased_lead) instead of building a new profile of that person.
erasures_table = app.Table("erasures", key_type=bytes, value_type=bytes, use_partitioner=True)

# Company domain -> the account's members and temperature (fed from accounts.members, keyed by domain).
accounts_table = app.Table("accounts", key_type=bytes, value_type=bytes, use_partitioner=True)

# Visitor id -> its held anonymous history, or the lead identify linked it to (DESIGN §3).
# Keyed by the visitor id, so it lives on the visitor's partition (where records keyed by the
# anonymousId land); bounded per visitor and expired by a timer on each worker.
visitors_table = app.Table("visitors", key_type=bytes, value_type=bytes, use_partitioner=True)


class TableWrites:
    """Table writes made at once in memory, their changelog records produced when the batch is sent.

    Faust's own ``table[key] = value`` queues the changelog record in a buffer that a commit's
    flush can leave non-empty (it gives up after 0.1 s without progress, and cannot see a
    record a background task has taken but not yet handed to the client), so an offset could
    be committed for an event whose state change was never produced. Here the batch awaits
    every record's hand-over to the Kafka client before its events are acked, and a commit
    flushes the client. Each record goes to its key's own partition (the producer's
    partitioner, as ``use_partitioner`` above).
    """

    def __init__(self) -> None:
        # Per table and key, its last value only: a key written twice in a batch (a visitor's
        # second anonymous event, say) costs one changelog record, as recovery keeps the last anyway.
        self._pending: dict[tuple[str, bytes], tuple[Any, bytes | None]] = {}

    def set(self, table: Any, key: bytes, value: bytes) -> None:
        table.data[key] = value
        self._pending[table.name, key] = (table, value)

    def delete(self, table: Any, key: bytes) -> None:
        if table.data.pop(key, None) is not None:
            self._pending[table.name, key] = (table, None)  # a tombstone: the changelog forgets it too

    async def produce(self) -> None:
        pending, self._pending = self._pending, {}
        for (_, key), (table, value) in pending.items():
            await send_now(table.changelog_topic.get_topic_name(), key, value)


async def send_now(topic: str, key: bytes | None, value: bytes | None) -> None:
    """Hand one record to the Kafka client (which batches and sends it), partitioned by key.

    Faust's ``Topic.send`` costs several times more per record (a future message, sensors);
    the worker's own records are already encoded bytes and need none of it.
    """
    await app.producer.send(topic, key, value, None, None, None)
