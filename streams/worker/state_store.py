"""The worker's tables on RocksDB: each key on its own partition's database, written once its changelog record is out.

Faust's RocksDB store files a write under the partition of the event being handled and asserts
there is one; the pipeline writes a whole batch, spanning partitions, and timers write with no
event at all. Here every key lives in the database of the partition its changelog record goes to
(``partition_for``, the producer's partitioner).

A write first waits in memory (``_staged``, read before the database) and reaches RocksDB only
when Kafka has acknowledged its changelog record, together with that record's offset, in one
atomic write batch. So the database never holds a value the changelog lacks, and a restart on
the same data directory, after a SIGTERM or a SIGKILL alike, reads the changelog only after the
offset stored with it: the tail. (Faust's own store writes the value at once and its offset on
acknowledgement; a crash between the two leaves a value on disk that no changelog holds, which a
redelivered event, recognised by id, would never write again.)

The memory budget (``LEADSTREAM_STATE_MEMORY_MB``) is one block cache shared by every table and
partition, with the write buffers charged to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import rocksdict
from faust.stores import STORES
from faust.stores.rocksdb import RocksDBOptions, Store
from prometheus_client import Counter

from streams.contracts.partitioning import partition_for

STORE_SCHEME = "leadstream-rocksdb"
STORES.aliases[STORE_SCHEME] = f"{__name__}:PartitionedStore"

RESTORED_RECORDS = Counter(
    "leadstream_state_restored_records_total",
    "Changelog records this worker read into its local tables while recovering (on RocksDB: the tail after"
    " the offset stored with the table)", ["table"],
)

_NOT_STAGED = object()


class SharedBudget:
    """One block cache for every database of the process, the write buffers charged to it: one bound in all."""

    cache: rocksdict.Cache | None = None
    write_buffers: rocksdict.WriteBufferManager | None = None

    @classmethod
    def set(cls, memory_mb: int) -> None:
        total = memory_mb * 1024 * 1024
        cls.cache = rocksdict.Cache(total)
        # Half the budget for memtables at most; RocksDB flushes one when they reach it, not stalling writers.
        cls.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(total // 2, False,
                                                                                            cls.cache)


class BudgetedOptions(RocksDBOptions):
    def as_options(self) -> rocksdict.Options:
        options = super().as_options()
        if SharedBudget.cache is not None:
            table_options = rocksdict.BlockBasedOptions()
            table_options.set_bloom_filter(self.bloom_filter_size, block_based=True)
            table_options.set_block_cache(SharedBudget.cache)
            table_options.set_cache_index_and_filter_blocks(True)  # in the budget, not beside it
            table_options.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
            options.set_block_based_table_factory(table_options)
            options.set_write_buffer_manager(SharedBudget.write_buffers)
        return options


class PartitionedStore(Store):
    """RocksDB with a key's partition computed, not taken from the current event; see the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rocksdb_options = BudgetedOptions(**self.options, use_rocksdict=True)
        self._partitions: int = self.app.conf.topic_partitions
        self._staged: dict[bytes, bytes | None] = {}  # key -> its value, or None: deleted

    # --- one key ------------------------------------------------------------------------------

    def _set(self, key: bytes, value: bytes | None) -> None:
        self._staged[key] = value

    def _del(self, key: bytes) -> None:
        self._staged[key] = None

    def _get(self, key: bytes) -> bytes | None:
        staged = self._staged.get(key, _NOT_STAGED)
        if staged is not _NOT_STAGED:
            return staged  # type: ignore[return-value]
        db = self._dbs.get(partition_for(key, self._partitions))
        return db.get(key) if db is not None else None

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def changelog_delivered(self, key: bytes, value: bytes | None) -> Callable[[int, int], None]:
        """What to call with the partition and offset Kafka gave the changelog record of this write of ``value``."""

        def delivered(partition: int, offset: int) -> None:
            if self._staged.get(key, _NOT_STAGED) is value:
                del self._staged[key]  # else a later write waits for its own record, and is read meanwhile
            db = self._dbs.get(partition)
            if db is None:
                return  # revoked meanwhile: whoever owns the partition now reads the record from the changelog
            batch = rocksdict.WriteBatch(raw_mode=True)
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
            batch.put(self.offset_key, str(offset).encode())
            db.write(batch)

        return delivered

    # --- every key ----------------------------------------------------------------------------

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        staged = dict(self._staged)
        for key, value in super()._iteritems():
            if key not in staged:
                yield key, value
        for key, value in staged.items():
            if value is not None:
                yield key, value

    def _iterkeys(self) -> Iterator[bytes]:
        for key, _ in self._iteritems():
            yield key

    def _itervalues(self) -> Iterator[bytes]:
        for _, value in self._iteritems():
            yield value

    def _size(self) -> int:
        return sum(1 for _ in self._iterkeys())

    def estimated_size(self) -> int:
        """Keys held, standby copies included, as RocksDB estimates them: no scan of every key (a metric's figure)."""
        held = sum(db.property_int_value("rocksdb.estimate-num-keys") or 0 for db in self._dbs.values())
        return held + sum(1 for value in self._staged.values() if value is not None)

    # --- recovery and rebalancing -------------------------------------------------------------

    def apply_changelog_batch(self, batch: Any, to_key: Any, to_value: Any) -> None:
        events = list(batch)
        RESTORED_RECORDS.labels(table=self.table.name).inc(len(events))
        super().apply_changelog_batch(events, to_key, to_value)

    def revoke_partitions(self, table: Any, tps: Any) -> None:
        revoked = {tp.partition for tp in tps if tp.topic in table.changelog_topic.topics}
        for key in [key for key in self._staged if partition_for(key, self._partitions) in revoked]:
            del self._staged[key]
        super().revoke_partitions(table, tps)
