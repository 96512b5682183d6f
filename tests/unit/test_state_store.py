"""The RocksDB store: a key on its own partition's database, on disk only with its acknowledged changelog offset."""

from __future__ import annotations

from pathlib import Path

import faust
import pytest
from faust.types import TP

from streams.config.environment import settings_from
from streams.contracts.partitioning import partition_for
from streams.errors import ConfigError
from streams.worker.state_store import STORE_SCHEME, PartitionedStore

PARTITIONS = 4


def _store(data_dir: Path, table_name: str = "leads") -> PartitionedStore:
    app = faust.App("state-store-test", store=f"{STORE_SCHEME}://", datadir=str(data_dir),
                    topic_partitions=PARTITIONS)
    table = app.Table(table_name, key_type=bytes, value_type=bytes, use_partitioner=True)
    store = table.data
    assert isinstance(store, PartitionedStore)
    # Every partition actively this worker's, as the assignor says after a rebalance: it lists only those.
    app.assignor._assignment.actives = {table.changelog_topic.get_topic_name(): list(range(PARTITIONS))}
    for partition in range(PARTITIONS):  # what Faust does for the partitions assigned to the worker
        store._db_for_partition(partition)
    return store


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
    assert settings_from({}).store == "memory"  # until a partition returning after its tombstones were compacted is rebuilt
    assert settings_from({"LEADSTREAM_STORE": "rocksdb"}).store == "rocksdb"
    with pytest.raises(ConfigError, match="LEADSTREAM_STORE"):
        settings_from({"LEADSTREAM_STORE": "redis"})
    with pytest.raises(ConfigError, match="LEADSTREAM_STATE_MEMORY_MB"):
        settings_from({"LEADSTREAM_STATE_MEMORY_MB": "4"})
