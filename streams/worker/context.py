"""What the pipeline works with, handed to it explicitly: the seam between its decisions and Faust.

The worker wires Faust's tables and producer in (``streams.worker.wiring``); unit tests and
``bench.topology`` wire plain dicts and an outbox that keeps records (``in_memory_context``).
Nothing here imports Faust, so the pipeline's decisions run without a broker or an app.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from scoring import ScoringModel
from scoring.due_index import DueIndex
from streams.config.environment import Settings
from streams.contracts.topics import (
    ACCOUNT_MEMBERS, ACCOUNT_QUALIFICATION, DEAD_LETTERS, FEEDBACK, QUALIFICATION, SHADOW_QUALIFICATION, SIGNALS,
)
from streams.worker.census import HeldCount, LeadCensus
from streams.worker.lead_index import LeadIndex
from streams.worker.revisit_queue import RevisitQueue


class Outbox(Protocol):
    """Where every record the pipeline produces leaves: table changelogs and topics alike."""

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None: ...

    # An outbox in front of Kafka also takes ``delivered=``: called with the record's partition and offset once
    # the broker has it (the RocksDB store persists a write then: streams/worker/state_store.py).


class MemoryOutbox:
    """Keeps every record in the order it was sent, instead of handing it to a Kafka client."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes | None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.records.append((topic, key, value))

    def on(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        """The (key, value) pairs sent to ``topic``, in order."""
        return [(key, value) for name, key, value in self.records if name == topic]

    def take(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        """Like ``on``, and forgets them: what a consumer of ``topic`` would read next."""
        taken = self.on(topic)
        self.records = [record for record in self.records if record[0] != topic]
        return taken


class StoredTable(Protocol):
    """A table as the pipeline sees it: its name, its changelog topic, and its local store."""

    name: str

    @property
    def changelog(self) -> str: ...

    @property
    def data(self) -> MutableMapping[bytes, bytes]: ...


@dataclass(frozen=True)
class MemoryTable:
    name: str
    changelog: str
    data: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class ShadowLane:
    """The worker's shadow: the model (None: no shadow), the id its starting changes carry, its states and timer."""

    leads: StoredTable
    model: ScoringModel | None = None
    cause: str = ""  # "shadow:<version>@<leads.control offset>": the event id of each lead's starting change
    due_index: DueIndex = field(default_factory=DueIndex)

    def use(self, model: ScoringModel | None, cause: str = "") -> None:
        self.model, self.cause = model, cause
        if model is None:
            self.due_index.rebuild(())  # switched off: its timer sends nothing more


@dataclass(frozen=True)
class TopicNames:
    """The broker names of the topics the pipeline writes, resolved once (the prefix is the deployment's)."""

    signals: str
    qualification: str
    dead_letters: str
    feedback: str
    account_members: str
    account_qualification: str
    shadow_qualification: str

    @classmethod
    def for_prefix(cls, prefix: str) -> TopicNames:
        return cls(signals=prefix + SIGNALS, qualification=prefix + QUALIFICATION, dead_letters=prefix + DEAD_LETTERS,
                   feedback=prefix + FEEDBACK, account_members=prefix + ACCOUNT_MEMBERS,
                   account_qualification=prefix + ACCOUNT_QUALIFICATION,
                   shadow_qualification=prefix + SHADOW_QUALIFICATION)


CrashPoint = Callable[[str, str], Awaitable[None]]


class Clock(Protocol):
    """What demotions run on (streams.config.clock.Clock in a worker; tests move it by hand)."""

    def now(self) -> float: ...

    def at_wall(self, wall: float) -> float:
        """The clock's reading at a wall-clock moment: a record's receipt time, on this clock."""


@dataclass(frozen=True)
class WorkerContext:
    """Everything a batch reads and writes, and where its output goes.

    ``model`` is asked once per batch, not held: a model rollout swaps the model while the worker
    runs. ``clock`` is the demotion clock (LEADSTREAM_CLOCK); ``wall_clock`` stamps records sent.
    """

    settings: Settings
    model: Callable[[], ScoringModel]
    topics: TopicNames
    leads: StoredTable
    erasures: StoredTable
    accounts: StoredTable
    visitors: StoredTable
    emails: StoredTable
    outbox: Outbox
    census: LeadCensus
    due_index: DueIndex[bytes]  # keyed by the lead's table key, the same object the lead index holds
    held: HeldCount
    clock: Clock
    wall_clock: Callable[[], float] = time.time
    crash_point: CrashPoint | None = None  # fault tests only (streams/worker/faults.py)
    # The owned partitions' leads by stage and temperature, ranked without decoding (the list, the board).
    lead_index: LeadIndex = field(default_factory=LeadIndex)
    # The owned partitions' leads due for a revisit nobody has acted on (the board's queue).
    revisit_queue: RevisitQueue = field(default_factory=RevisitQueue)
    # When each account of the owned partitions may next cool with no member update (scoring.account_timer).
    account_due_index: DueIndex = field(default_factory=DueIndex)
    # When each visitor of the owned partitions is next to be asked to expire (streams/worker/stitching.py).
    visitor_expiry: DueIndex = field(default_factory=DueIndex)
    # The shadow model and its own per-lead states (streams/worker/shadow_lane.py).
    shadow: ShadowLane = field(default_factory=lambda: ShadowLane(MemoryTable("shadow_leads", "shadow_leads-changelog")))

    @property
    def partitions(self) -> int:
        return self.settings.partitions


def changelog_name(app_id: str, table: str) -> str:
    """The changelog topic Faust names for a table of the app ``app_id``."""
    return f"{app_id}-{table}-changelog"


def in_memory_context(settings: Settings, model: Callable[[], ScoringModel], outbox: Outbox | None = None,
                      clock: Clock | None = None, wall_clock: Callable[[], float] = time.time,
                      **overrides: Any) -> WorkerContext:
    """A context on plain dicts and a ``MemoryOutbox``: the pipeline without Kafka or Faust."""
    def table(name: str) -> MemoryTable:
        return MemoryTable(name, changelog_name(settings.app_id, name))

    leads = table("leads")
    return WorkerContext(
        settings=settings, model=model, topics=TopicNames.for_prefix(settings.topic_prefix),
        leads=leads, erasures=table("erasures"), accounts=table("accounts"), visitors=table("visitors"),
        emails=table("emails"),
        outbox=outbox if outbox is not None else MemoryOutbox(),
        census=LeadCensus(table_size=lambda: len(leads.data)), due_index=DueIndex(), held=HeldCount(),
        clock=clock if clock is not None else settings.clock, wall_clock=wall_clock,
        **{"shadow": ShadowLane(table("shadow_leads")), **overrides},
    )
