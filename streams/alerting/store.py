"""The durable record of handled alerts, by change_id: a stdlib sqlite3 file in WAL mode.

An alert is recorded here (delivered or dead-lettered) before its offset is committed, so a
consumer restarted after a crash recognises what it already handled and does not send it again.
Writes use ``synchronous=FULL``: a recorded outcome survives a power cut, not only a crash.
Calls are synchronous and short (one indexed row); the consumer makes them between awaits.
"""

from __future__ import annotations

import sqlite3
from enum import Enum
from pathlib import Path


class Outcome(str, Enum):
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"


class AlertStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None)  # autocommit: one statement each
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS handled ("
            " change_id TEXT PRIMARY KEY, outcome TEXT NOT NULL, at REAL NOT NULL) WITHOUT ROWID"
        )

    def already_handled(self, change_id: str) -> bool:
        return self.outcome_of(change_id) is not None

    def outcome_of(self, change_id: str) -> Outcome | None:
        row = self._db.execute("SELECT outcome FROM handled WHERE change_id = ?", (change_id,)).fetchone()
        return Outcome(row[0]) if row else None

    def record(self, change_id: str, outcome: Outcome, at: float) -> None:
        """Durably notes ``change_id`` as handled at ``at`` (epoch seconds); the first outcome stays."""
        self._db.execute(
            "INSERT OR IGNORE INTO handled (change_id, outcome, at) VALUES (?, ?, ?)",
            (change_id, Outcome(outcome).value, at),
        )

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM handled").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
