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

A table that registers a summarizer (``SUMMARIZERS``: the leads table, streams/worker/lead_summaries.py)
also keeps each key's summary in a column family of the same database, written in the same batch
as the value, so what is rebuilt after a recovery reads summaries rather than decoding every value.

With the offset goes the wall time its record was written, and a database older than the
changelog's tombstones could be is rebuilt on opening; a worker deletes the partitions assigned to
others: streams/worker/state_retention.py.

The memory budget (``LEADSTREAM_STATE_MEMORY_MB``) is one block cache shared by every table and
partition, with the write buffers charged to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from typing import Any

import rocksdict
from faust.stores import STORES
from faust.stores.rocksdb import RocksDBOptions, Store
from prometheus_client import Counter

from streams.contracts.partitioning import partition_for
from streams.worker.state_retention import WRITTEN_AT_KEY, discard_foreign, open_current, written_at

STORE_SCHEME = "leadstream-rocksdb"
STORES.aliases[STORE_SCHEME] = f"{__name__}:PartitionedStore"

RESTORED_RECORDS = Counter(
    "leadstream_state_restored_records_total",
    "Changelog records this worker read into its local tables while recovering (on RocksDB: the tail after"
    " the offset stored with the table)", ["table"],
)

_NOT_STAGED = object()
PARTITION_CACHE = 65_536  # keys whose partition is remembered (some 10 MB)
SUMMARIES = "summaries"
# In the summaries family: every key of the database has its summary there (a database written by a
# release without summaries has not, until its first rebuild fills them in).
_COMPLETE = b""
_BACKFILL_BATCH = 10_000

# Table name -> what its store keeps beside each value: summarize(key, value) -> the summary, or None.
# Faust makes the stores, so what they need of the app is registered here, before they open.
Summarizer = Callable[[bytes, bytes], "bytes | None"]
SUMMARIZERS: dict[str, Summarizer] = {}


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
        # Kafka's murmur2 in Python costs about 3 µs a key, and a batch reads its leads, erasure marks and
        # visitors by key again and again: the keys read lately keep their partition.
        self._partition_of: Callable[[bytes], int] = lru_cache(maxsize=PARTITION_CACHE)(
            partial(partition_for, partitions=self._partitions))
        self._staged: dict[bytes, bytes | None] = {}  # key -> its value, or None: deleted
        self._staged_summaries: dict[bytes, bytes] = {}  # key -> the summary a staged value came with
        self._families: dict[int, tuple[rocksdict.Rdict, Any]] = {}  # partition -> summaries family, its handle
        # Faust's codecs hand a bytes table's keys and values through unchanged, at a few µs per call.
        self._raw = (self.key_type is bytes and self.value_type is bytes
                     and self.key_serializer in (None, "raw") and self.value_serializer in (None, "raw"))
        self._holds_keys: bool | None = None  # None: not known since a database was opened

    # --- the mapping, for bytes ------------------------------------------------------------------

    def get(self, key: Any, default: Any = None) -> Any:
        if self._raw and type(key) is bytes:
            value = self._get(key)
            return default if value is None else value
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        if self._raw and type(key) is bytes:
            value = self._get(key)
            if value is None:
                raise KeyError(key)
            return value
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if self._raw and type(key) is bytes:
            return self._get(key) is not None
        return super().__contains__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._raw and type(key) is bytes and type(value) is bytes:
            self._set(key, value)
        else:
            super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        if self._raw and type(key) is bytes:
            self._del(key)
        else:
            super().__delitem__(key)

    def __bool__(self) -> bool:
        """Holds any key? Without this, Python takes the length: a count of every key on RocksDB.

        A key deleted since leaves the answer yes, which only costs the caller a lookup that finds nothing.
        """
        if self._holds_keys is None:
            self._holds_keys = (any(value is not None for value in self._staged.values())
                                or any(next(self._visible_keys(db), None) is not None for db in self._dbs.values()))
        return self._holds_keys

    # --- one key ------------------------------------------------------------------------------

    def _set(self, key: bytes, value: bytes | None) -> None:
        self._staged[key] = value
        self._staged_summaries.pop(key, None)
        if value is not None:
            self._holds_keys = True

    def set_with_summary(self, key: bytes, value: bytes, summary: bytes) -> None:
        self._staged[key] = value
        self._holds_keys = True
        self._staged_summaries[key] = summary

    def _del(self, key: bytes) -> None:
        self._staged[key] = None
        self._staged_summaries.pop(key, None)

    def _get(self, key: bytes) -> bytes | None:
        staged = self._staged.get(key, _NOT_STAGED)
        if staged is not _NOT_STAGED:
            return staged  # type: ignore[return-value]
        db = self._dbs.get(self._partition_of(key))
        return db.get(key) if db is not None else None

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None

    def changelog_delivered(self, key: bytes, value: bytes | None,
                            summary: bytes | None = None) -> Callable[[int, int], None]:
        """What to call with the partition and offset Kafka gave the changelog record of this write of ``value``."""

        def delivered(partition: int, offset: int) -> None:
            if self._staged.get(key, _NOT_STAGED) is value:
                del self._staged[key]  # else a later write waits for its own record, and is read meanwhile
                self._staged_summaries.pop(key, None)
            db = self._dbs.get(partition)
            if db is None:
                return  # revoked meanwhile: whoever owns the partition now reads the record from the changelog
            batch = rocksdict.WriteBatch(raw_mode=True)
            self._put(batch, partition, key, value, summary)
            batch.put(self.offset_key, str(offset).encode())
            batch.put(WRITTEN_AT_KEY, written_at(time.time()))
            db.write(batch)

        return delivered

    def _put(self, batch: rocksdict.WriteBatch, partition: int, key: bytes, value: bytes | None,
             summary: bytes | None) -> None:
        """Write ``value`` (None: delete) and, if this table keeps them, its summary, into ``batch``."""
        family = self._family(partition)
        if value is None:
            batch.delete(key)
            if family is not None:
                batch.delete(key, family[1])
            return
        batch.put(key, value)
        if family is not None:
            if summary is None:
                summary = SUMMARIZERS[self.table.name](key, value)
            if summary is None:
                batch.delete(key, family[1])
            else:
                batch.put(key, summary, family[1])

    # --- summaries ----------------------------------------------------------------------------

    def _family(self, partition: int) -> tuple[rocksdict.Rdict, Any] | None:
        """The partition's summaries family and its handle, opened with the database; None if the table keeps none."""
        if self.table.name not in SUMMARIZERS:
            return None
        family = self._families.get(partition)
        if family is None:
            db = self._db_for_partition(partition)
            try:
                opened = db.get_column_family(SUMMARIES)
            except Exception:  # noqa: BLE001 — rocksdict raises a bare Exception for a missing family
                fresh = db.get(self.offset_key) is None  # nothing written yet: every write from now on has one
                opened = db.create_column_family(SUMMARIES, self.rocksdb_options.as_options())
                if fresh:
                    opened[_COMPLETE] = b""
            family = self._families[partition] = (opened, db.get_column_family_handle(SUMMARIES))
        return family

    def summaries(self, partitions: set[int]) -> Iterator[tuple[bytes, int, bytes | None]]:
        """(key, its partition, its summary or None) for every key held in ``partitions``, staged writes included."""
        staged = dict(self._staged)
        for partition in sorted(partitions):
            if partition not in self._dbs or (family := self._family(partition)) is None:
                continue
            if family[0].get(_COMPLETE) is None:
                self._fill_summaries(partition, family)
            for key, summary in family[0].items():
                if key != _COMPLETE and key not in staged:
                    yield key, partition, summary
        for key, value in staged.items():
            if value is not None and (partition := self._partition_of(key)) in partitions:
                yield key, partition, self._staged_summaries.get(key)

    def _fill_summaries(self, partition: int, family: tuple[rocksdict.Rdict, Any]) -> None:
        """Once, for a database written without summaries: each value's summary, then the mark that all are there."""
        summarize, db = SUMMARIZERS[self.table.name], self._dbs[partition]
        batch, pending = rocksdict.WriteBatch(raw_mode=True), 0
        for key, value in self._visible_items(db):
            if (summary := summarize(key, value)) is not None:
                batch.put(key, summary, family[1])
                pending += 1
            if pending >= _BACKFILL_BATCH:
                db.write(batch)
                batch, pending = rocksdict.WriteBatch(raw_mode=True), 0
        batch.put(_COMPLETE, b"", family[1])
        db.write(batch)

    # --- every key ----------------------------------------------------------------------------

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        staged = dict(self._staged)
        for key, value in super()._iteritems():
            if key not in staged:
                yield key, value
        for key, value in staged.items():
            if value is not None:
                yield key, value

    def _visible_items(self, db: rocksdict.Rdict) -> Iterator[tuple[bytes, bytes]]:
        for key, value in db.items():
            if key != self.offset_key and key != WRITTEN_AT_KEY:
                yield key, value

    def _visible_keys(self, db: rocksdict.Rdict) -> Iterator[bytes]:
        for key, _ in self._visible_items(db):
            yield key

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
        """Each partition's records with their summaries, its offset and the time its newest record was written,
        in one write batch (recovery, and standby copies)."""
        writes: dict[int, rocksdict.WriteBatch] = {}
        newest: dict[int, Any] = {}  # partition -> the message of its highest offset
        count = 0
        for event in batch:
            message = event.message
            write = writes.get(message.partition)
            if write is None:
                write = writes[message.partition] = rocksdict.WriteBatch(raw_mode=True)
            self._put(write, message.partition, message.key, message.value, None)
            if message.value is not None:
                self._holds_keys = True
            if message.partition not in newest or message.offset > newest[message.partition].offset:
                newest[message.partition] = message
            count += 1
        for partition, write in writes.items():
            message = newest[partition]
            write.put(self.offset_key, str(message.offset).encode())
            # The broker's timestamp, in seconds; none known: the oldest time, so the partition is rebuilt.
            write.put(WRITTEN_AT_KEY, written_at(message.timestamp or 0.0))
            self._db_for_partition(partition).write(write)
        RESTORED_RECORDS.labels(table=self.table.name).inc(count)

    def _open_for_partition(self, partition: int) -> rocksdict.Rdict:
        self._holds_keys = None  # the database may hold keys
        return open_current(partial(Store._open_for_partition, self, partition), self.partition_path(partition),
                            self.offset_key, self.table.name, partition)

    def revoke_partitions(self, table: Any, tps: Any) -> None:
        revoked = {tp.partition for tp in tps if tp.topic in table.changelog_topic.topics}
        for key in [key for key in self._staged if self._partition_of(key) in revoked]:
            del self._staged[key]
            self._staged_summaries.pop(key, None)
        for partition in revoked:
            self._families.pop(partition, None)  # a handle kept would keep the database open, and locked
        super().revoke_partitions(table, tps)

    async def on_rebalance(self, assigned: Any, revoked: Any, newly_assigned: Any, generation_id: int = 0) -> None:
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)
        if self.app.should_stop or generation_id != self.app.consumer_generation_id:
            return  # a stop, or another rebalance already under way: its assignment decides
        assignor = self.app.assignor
        held = {tp.partition for tp in assignor.assigned_actives() | assignor.assigned_standbys()
                if tp.topic in self.table.changelog_topic.topics}
        async with self.db_lock:
            for partition in set(self._families) - held:
                del self._families[partition]  # a handle kept would keep the database open
            discard_foreign(self.path, self.basename.name, held, self._dbs, self.table.name)

    async def stop(self) -> None:
        self._date_current_actives()
        self._families.clear()
        await super().stop()

    def _date_current_actives(self) -> None:
        """Stamp now on the databases of active partitions recovered and with nothing in flight.

        This worker is the only writer of an active partition, so such a database holds the whole changelog
        as of now: a restart within the bound reads only the tail. A standby's may lag behind its changelog.
        """
        recovery = self.app.tables.recovery
        if self.app.rebalancing or recovery.in_recovery or not recovery.completed.is_set():
            return
        in_flight = {self._partition_of(key) for key in self._staged}
        actives = {tp.partition for tp in self.app.assignor.assigned_actives()
                   if tp.topic in self.table.changelog_topic.topics}
        for partition, db in self._dbs.items():
            if partition in actives and partition not in in_flight and db.get(self.offset_key) is not None:
                db.put(WRITTEN_AT_KEY, written_at(time.time()))
