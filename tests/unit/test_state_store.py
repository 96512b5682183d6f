"""The RocksDB store: a key on its own partition's database, on disk only with its acknowledged changelog offset."""

from __future__ import annotations

import time
from pathlib import Path

import faust
import pytest
import rocksdict
from faust.types import TP
from prometheus_client import REGISTRY

from streams.config.environment import settings_from
from streams.contracts.partitioning import partition_for
from streams.errors import ConfigError
from streams.worker.state_retention import REBUILD_AFTER_S, WRITTEN_AT_KEY, written_at
from streams.worker.state_store import STORE_SCHEME, PartitionedStore

PARTITIONS = 4


def _store(data_dir: Path, actives: range = range(PARTITIONS), standbys: range = range(0),
           table_name: str = "leads") -> PartitionedStore:
    app = faust.App("state-store-test", store=f"{STORE_SCHEME}://", datadir=str(data_dir),
                    topic_partitions=PARTITIONS)
    table = app.Table(table_name, key_type=bytes, value_type=bytes, use_partitioner=True)
    store = table.data
    assert isinstance(store, PartitionedStore)
    # Every partition actively this worker's, as the assignor says after a rebalance: it lists only those.
    app.assignor._assignment.actives = {table.changelog_topic.get_topic_name(): list(actives)}
    app.assignor._assignment.standbys = {table.changelog_topic.get_topic_name(): list(standbys)}
    for partition in [*actives, *standbys]:  # what Faust does for the partitions assigned to the worker
        store._db_for_partition(partition)
    return store


def _stopped(store: PartitionedStore) -> None:
    """The process ends: its databases closed, as a new one finds them."""
    for db in store._dbs.values():
        db.close()
    store._dbs.clear()


def _rebuilt(reason: str) -> float:
    return REGISTRY.get_sample_value("leadstream_state_rebuilt_partitions_total",
                                     {"table": "leads", "reason": reason}) or 0.0


def _acknowledged(store: PartitionedStore, key: bytes, value: bytes, offset: int) -> int:
    store[key] = value
    partition = partition_for(key, PARTITIONS)
    store.changelog_delivered(key, value)(partition, offset)
    return partition


def _rewrite(path: Path, key: bytes, value: bytes | None) -> None:
    """Change one bookkeeping entry in a stopped worker's partition database, as time or an older release left it."""
    db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
    try:
        if value is None:
            del db[key]
        else:
            db[key] = value
    finally:
        db.close()


def test_a_write_is_read_at_once_and_reaches_the_disk_with_its_offset_only_when_kafka_acknowledged_it(tmp_path):
    store = _store(tmp_path)
    acknowledged, unacknowledged, erased = b"lead-acknowledged", b"lead-in-flight", b"lead-erased"
    store[erased] = b"old"
    store.changelog_delivered(erased, b"old")(partition_for(erased, PARTITIONS), 3)
    store[acknowledged] = b"state-1"
    store.changelog_delivered(acknowledged, b"state-1")(partition_for(acknowledged, PARTITIONS), 7)
    store[unacknowledged] = b"state-2"
    store.changelog_delivered(unacknowledged, b"state-2")  # handed to the client; no answer before the crash
    del store[erased]
    store.changelog_delivered(erased, None)(partition_for(erased, PARTITIONS), 8)

    assert store[acknowledged] == b"state-1" and store[unacknowledged] == b"state-2" and erased not in store
    assert dict(store.items()) == {acknowledged: b"state-1", unacknowledged: b"state-2"}
    assert len(store) == 2

    store._dbs.clear()  # the process dies: what a new one opens on the same directory
    reopened = _store(tmp_path)
    assert dict(reopened.items()) == {acknowledged: b"state-1"}  # the changelog's tail brings the other
    # Per partition, the offset of the last record acknowledged on it, and none where nothing was.
    expected_offsets = {partition_for(acknowledged, PARTITIONS): 7}
    expected_offsets[partition_for(erased, PARTITIONS)] = 8  # acknowledged after, should they share a partition
    for partition in range(PARTITIONS):
        tp = TP(reopened.table.changelog_topic.get_topic_name(), partition)
        assert reopened.persisted_offset(tp) == expected_offsets.get(partition), partition

def test_whether_a_table_holds_any_key_is_answered_without_counting_its_keys(tmp_path, monkeypatch):
    def counted(_store: PartitionedStore) -> int:
        raise AssertionError("counted every key to learn whether there is one")

    monkeypatch.setattr(PartitionedStore, "_size", counted)
    store = _store(tmp_path)
    assert not store
    _acknowledged(store, b"lead-1", b"state", 1)
    assert store
    _stopped(store)
    assert _store(tmp_path)  # on disk only, as a restart finds it


def test_a_bytes_table_reads_and_writes_its_keys_as_given(tmp_path):
    store = _store(tmp_path)
    store[b"lead-1"] = b"state"
    assert store.get(b"lead-1") == b"state" and store[b"lead-1"] == b"state" and b"lead-1" in store
    assert store.get(b"lead-2") is None and store.get(b"lead-2", b"none") == b"none" and b"lead-2" not in store
    with pytest.raises(KeyError):
        store[b"lead-2"]
    assert store.pop(b"lead-1") == b"state" and b"lead-1" not in store


def test_an_older_acknowledgement_never_hides_a_newer_write_still_in_flight(tmp_path):
    store = _store(tmp_path)
    key = b"lead-written-twice"
    store[key] = b"first"
    first = store.changelog_delivered(key, b"first")
    store[key] = b"second"
    second = store.changelog_delivered(key, b"second")
    first(partition_for(key, PARTITIONS), 10)
    assert store[key] == b"second"
    second(partition_for(key, PARTITIONS), 11)
    assert store[key] == b"second" and store._staged == {}


def test_the_store_setting_is_validated_and_names_the_variable():
    assert settings_from({}).store == "rocksdb"
    assert settings_from({"LEADSTREAM_STORE": "memory"}).store == "memory"
    assert settings_from({"LEADSTREAM_STORE": "rocksdb"}).store == "rocksdb"
    with pytest.raises(ConfigError, match="LEADSTREAM_STORE"):
        settings_from({"LEADSTREAM_STORE": "redis"})
    with pytest.raises(ConfigError, match="LEADSTREAM_STATE_MEMORY_MB"):
        settings_from({"LEADSTREAM_STATE_MEMORY_MB": "4"})


def test_a_partition_whose_state_is_older_than_the_changelogs_tombstones_could_be_is_opened_empty(tmp_path):
    store = _store(tmp_path)
    partition = _acknowledged(store, b"lead-erased-meanwhile", b"state", 5)
    _stopped(store)
    stale = time.time() - REBUILD_AFTER_S - 60  # a tombstone written since may have been compacted away
    _rewrite(store.partition_path(partition), WRITTEN_AT_KEY, written_at(stale))
    before = _rebuilt("stale")

    reopened = _store(tmp_path)
    tp = TP(reopened.table.changelog_topic.get_topic_name(), partition)
    assert b"lead-erased-meanwhile" not in reopened and reopened.persisted_offset(tp) is None  # the whole changelog
    assert _rebuilt("stale") == before + 1


def test_a_partition_written_within_the_bound_keeps_its_keys_and_offset(tmp_path):
    store = _store(tmp_path)
    partition = _acknowledged(store, b"lead-kept", b"state", 5)
    _stopped(store)
    _rewrite(store.partition_path(partition), WRITTEN_AT_KEY, written_at(time.time() - REBUILD_AFTER_S + 60))
    before = _rebuilt("stale")

    reopened = _store(tmp_path)
    assert reopened[b"lead-kept"] == b"state"
    assert reopened.persisted_offset(TP(reopened.table.changelog_topic.get_topic_name(), partition)) == 5
    assert dict(reopened.items()) == {b"lead-kept": b"state"}  # the stored time is no key of the table
    assert _rebuilt("stale") == before


def test_a_partition_with_an_offset_but_no_time_written_by_an_older_release_is_rebuilt(tmp_path):
    store = _store(tmp_path)
    partition = _acknowledged(store, b"lead-from-before", b"state", 5)
    _stopped(store)
    _rewrite(store.partition_path(partition), WRITTEN_AT_KEY, None)
    before = _rebuilt("undated")

    reopened = _store(tmp_path)
    assert b"lead-from-before" not in reopened
    assert _rebuilt("undated") == before + 1


def test_a_recovered_partition_is_dated_by_its_newest_records_broker_time(tmp_path):
    store = _store(tmp_path)
    topic = store.table.changelog_topic.get_topic_name()
    written = time.time() - REBUILD_AFTER_S - 60

    class Message:  # the fields of Faust's ConsumerMessage that a changelog batch is read by
        def __init__(self, key: bytes, value: bytes | None, offset: int, timestamp: float) -> None:
            self.key, self.value, self.offset, self.timestamp = key, value, offset, timestamp
            self.partition, self.tp = partition_for(key, PARTITIONS), TP(topic, partition_for(key, PARTITIONS))

    class Event:
        def __init__(self, message: Message) -> None:
            self.message = message

    key = b"lead-recovered"
    store.apply_changelog_batch([Event(Message(key, b"state", 8, written)), Event(Message(key, b"older", 4, 0.0))],
                                None, None)
    partition = partition_for(key, PARTITIONS)
    assert store[key] == b"older"  # applied in the order read, as Faust does
    assert store.persisted_offset(TP(topic, partition)) == 8
    assert float(store._dbs[partition].get(WRITTEN_AT_KEY)) == written
    _stopped(store)
    assert key not in _store(tmp_path)  # its newest record is older than the bound: rebuilt


async def test_an_assignment_deletes_the_partitions_this_worker_neither_owns_nor_stands_by_for(tmp_path):
    store = _store(tmp_path)
    for n, key in enumerate([b"lead-a", b"lead-b", b"lead-c", b"lead-d", b"lead-e", b"lead-f"]):
        _acknowledged(store, key, b"state", n)
    on_disk = {p for p in range(PARTITIONS) if store.partition_path(p).exists()}
    assert on_disk == set(range(PARTITIONS))

    topic = store.table.changelog_topic.get_topic_name()
    store.app.assignor._assignment.actives = {topic: [0]}
    store.app.assignor._assignment.standbys = {topic: [1]}
    revoked = {TP(topic, p) for p in (1, 2, 3)}
    await store.on_rebalance({TP(topic, 0), TP(topic, 1)}, revoked, set())

    assert {p for p in range(PARTITIONS) if store.partition_path(p).exists()} == {0, 1}
    assert set(store._dbs) <= {0, 1}


async def test_a_revocation_alone_as_at_a_clean_stop_deletes_nothing(tmp_path):
    store = _store(tmp_path)
    for n, key in enumerate([b"lead-a", b"lead-b", b"lead-c", b"lead-d", b"lead-e", b"lead-f"]):
        _acknowledged(store, key, b"state", n)
    topic = store.table.changelog_topic.get_topic_name()
    store.revoke_partitions(store.table, {TP(topic, p) for p in range(PARTITIONS)})
    assert all(store.partition_path(p).exists() for p in range(PARTITIONS))


def _stored_time(path: Path) -> float:
    db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True),
                         access_type=rocksdict.AccessType.read_only())
    try:
        return float(db[WRITTEN_AT_KEY])
    finally:
        db.close()


async def test_a_clean_stop_dates_the_recovered_active_partitions_and_leaves_the_standbys_as_they_were(tmp_path):
    store = _store(tmp_path, actives=range(2), standbys=range(2, PARTITIONS))
    for offset, partition in enumerate(range(PARTITIONS)):  # each database last written long ago
        store._dbs[partition].write(_dated(store.offset_key, offset, time.time() - 3600))
    busy = next(key for n in range(100) if partition_for(key := f"lead-{n}".encode(), PARTITIONS) == 1)
    store[busy] = b"in flight"  # its changelog record not acknowledged yet: partition 1 may lack a record
    store.app.tables.recovery.completed.set()
    stopping_at = time.time()

    await store.stop()

    stored = {partition: _stored_time(store.partition_path(partition)) for partition in range(PARTITIONS)}
    assert stored[0] >= stopping_at  # active, recovered, nothing in flight: current as of the stop
    assert all(stored[partition] < stopping_at for partition in (1, 2, 3)), stored  # in flight; standbys may lag


def _dated(offset_key: bytes, offset: int, at: float) -> rocksdict.WriteBatch:
    batch = rocksdict.WriteBatch(raw_mode=True)
    batch.put(offset_key, str(offset).encode())
    batch.put(WRITTEN_AT_KEY, written_at(at))
    return batch
