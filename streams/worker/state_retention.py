"""How long the worker's tables stay on its disk: never so long that they could hold what an erasure removed.

A worker on RocksDB reads a partition it held before from its disk, then only the changelog after
the offset stored with it. An erasure's tombstone stays in a compacted changelog for its
``delete.retention.ms`` (a day) and is then compacted away with the record it erased, so two rules
keep the disk from outliving it (docs/privacy.md, "Tables on local disk"):

- Stale state is rebuilt. With the offset, the store keeps the wall time its record was written
  (``WRITTEN_AT_KEY``, in the same write batch). A database whose time is older than
  ``REBUILD_AFTER_S``, or that holds data but no time (an older release wrote it), is destroyed
  when it is opened and recovered from the whole changelog.
- A worker holds only the partitions it owns or stands by for: at each assignment the databases
  of the table's other partitions are deleted. A revocation alone deletes nothing, so a clean stop
  keeps the disk for a fast restart.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import rocksdict
from prometheus_client import Counter

from streams.contracts.topic_admin import COMPACTION_CONFIGS

log = logging.getLogger(__name__)

WRITTEN_AT_KEY = b"__leadstream\0offset-written-at__"
# Half the changelogs' delete.retention.ms: a tombstone written after the stored offset is younger than the
# stored time, so it is still in the changelog, with as long again to spare for this host's and the brokers'
# clocks to disagree and for a record's acknowledgement to come after later records were written.
REBUILD_AFTER_S = int(COMPACTION_CONFIGS["delete.retention.ms"]) / 1000 / 2

STALE, UNDATED = "stale", "undated"  # the reasons a partition is rebuilt
REBUILT_PARTITIONS = Counter(
    "leadstream_state_rebuilt_partitions_total",
    "Table partitions whose local database was destroyed on opening and recovered from the whole changelog:"
    " stale (written longer ago than half the changelog's delete.retention.ms) or undated (by an older release)",
    ["table", "reason"],
)
DISCARDED_PARTITIONS = Counter(
    "leadstream_state_discarded_partitions_total",
    "Table partitions deleted from the local disk at an assignment that gave them to other workers", ["table"],
)


def written_at(at: float) -> bytes:
    """The stored form of a wall time in seconds."""
    return repr(at).encode()


def rebuild_reason(db: rocksdict.Rdict, offset_key: bytes, now: float) -> str | None:
    """Why ``db`` must not be trusted to hold only what its changelog still erases, or None: it may be."""
    stored = db.get(WRITTEN_AT_KEY)
    if stored is None:
        holds_anything = next(iter(db.keys()), None) is not None
        return UNDATED if holds_anything else None
    if db.get(offset_key) is None:
        return None  # a time but no offset: never the store's writing; nothing read from the changelog yet
    return STALE if now - float(stored) > REBUILD_AFTER_S else None


def open_current(open_db: Callable[[], rocksdict.Rdict], path: Path, offset_key: bytes, table: str,
                 partition: int) -> rocksdict.Rdict:
    """The partition's database from ``open_db``, first destroyed (so opened empty) when it may be stale."""
    db = open_db()
    reason = rebuild_reason(db, offset_key, time.time())
    if reason is None:
        return db
    db.close()
    shutil.rmtree(path)  # failing, the worker stops rather than serve what may have been erased
    log.info("table %s partition %d: local state %s, rebuilt from the whole changelog", table, partition, reason)
    REBUILT_PARTITIONS.labels(table=table, reason=reason).inc()
    return open_db()


def partition_dirs(table_dir: Path, basename: str) -> dict[int, Path]:
    """The table's partition databases on disk (``<basename>-<partition>.db``, as Faust names them), by partition."""
    pattern = re.compile(rf"{re.escape(basename)}-(\d+)\.db")
    if not table_dir.is_dir():
        return {}
    return {int(match.group(1)): entry for entry in table_dir.iterdir()
            if entry.is_dir() and (match := pattern.fullmatch(entry.name))}


def discard_foreign(table_dir: Path, basename: str, held: Iterable[int], open_dbs: dict, table: str) -> list[int]:
    """Delete the table's partition databases not in ``held``, closing any still open; the partitions deleted."""
    kept = set(held)
    discarded = []
    for partition, path in sorted(partition_dirs(table_dir, basename).items()):
        if partition in kept:
            continue
        db = open_dbs.pop(partition, None)
        if db is not None:
            db.close()
        try:
            shutil.rmtree(path)
        except OSError as error:  # kept for now: stale, it is rebuilt if it is ever opened again
            log.warning("table %s partition %d: assigned elsewhere, not deleted: %s", table, partition, error)
            continue
        DISCARDED_PARTITIONS.labels(table=table).inc()
        log.info("table %s partition %d: assigned elsewhere, deleted from the local disk", table, partition)
        discarded.append(partition)
    return discarded
