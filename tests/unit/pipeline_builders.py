"""Small builders for the pipeline's unit tests: Segment events, raw records, and a worker context in memory.

``Topology`` runs batches as the worker would, Kafka replaced by the context's ``MemoryOutbox``:
what a batch forwards on leads.signals or accounts.members is handed to the next batch, as the
brokers would hand it to the partition's owner.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord

from scoring import ScoringModel
from streams.config.environment import settings_from
from streams.contracts import lead_records
from streams.contracts.partitioning import partition_for
from streams.worker import pipeline
from streams.worker.batch import stored_state
from streams.worker.context import Clock, MemoryOutbox, WorkerContext, in_memory_context
from tests.unit.builders import model

PARTITIONS = 4
START = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
NOW = START + timedelta(hours=1)  # the demotion clock and every record's timestamps: tests never read the clock
RAW = "leads.events.raw"


def at(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def page(lead: str, event_id: str, path: str, minutes: float = 0.0) -> dict[str, Any]:
    return {"type": "page", "messageId": event_id, "userId": lead, "properties": {"path": path}, "timestamp": at(minutes)}


def track(lead: str, event_id: str, name: str, minutes: float = 0.0, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "messageId": event_id, "userId": lead, "event": name, "properties": properties,
            "timestamp": at(minutes)}


ICP_TRAITS = {"title": "VP Marketing", "industry": "software", "employees": 400, "country": "US"}


def identify(lead: str, event_id: str, email: str, minutes: float = 0.0, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": event_id, "userId": lead,
            "traits": {"email": email, **ICP_TRAITS, **traits}, "timestamp": at(minutes)}


def visit(visitor: str, event_id: str, path: str, minutes: float = 0.0) -> dict[str, Any]:
    """An anonymous page view: only the visitor id (analytics.js's anonymousId) is known."""
    return {"type": "page", "messageId": event_id, "anonymousId": visitor, "properties": {"path": path},
            "timestamp": at(minutes)}


def identify_visitor(lead: str, visitor: str, event_id: str, email: str, minutes: float = 0.0) -> dict[str, Any]:
    return {**identify(lead, event_id, email, minutes), "anonymousId": visitor}


def answers(lead: str, event_id: str, minutes: float = 0.0, **criteria: Any) -> dict[str, Any]:
    return track(lead, event_id, "Qualification Form Submitted", minutes, criteria=criteria)


def hot_journey(lead: str, email: str) -> list[dict[str, Any]]:
    """IQL on identify, MQL and warm at the webinar, SQL and hot once every BANT criterion is met."""
    return [
        identify(lead, f"{lead}-1", email, minutes=0),
        page(lead, f"{lead}-2", "/blog/intent", minutes=1),
        track(lead, f"{lead}-3", "Case Study Downloaded", minutes=2),
        track(lead, f"{lead}-4", "Webinar Attended", minutes=3),
        page(lead, f"{lead}-5", "/pricing", minutes=4),
        track(lead, f"{lead}-6", "Demo Requested", minutes=5),
        answers(lead, f"{lead}-7", minutes=6, need="yes", authority="yes"),
        answers(lead, f"{lead}-8", minutes=7, budget="yes", timeline="this quarter"),
    ]


def key_of(event: dict[str, Any]) -> bytes:
    """The key the collector gives an event: its user id, else its visitor id."""
    return str(event.get("userId") or event["anonymousId"]).encode()


def record(topic: str, key: bytes | None, value: bytes | None, partition: int | None = None,
           offset: int = 0) -> ConsumerRecord:
    """A record as the consumer hands it over, on its key's partition unless told otherwise."""
    if partition is None:
        partition = partition_for(key, PARTITIONS) if key else 0
    return ConsumerRecord(topic, partition, offset, int(NOW.timestamp() * 1000), 0, key, value, None,
                          len(key or b""), len(value or b""), [])


def raw(event: dict[str, Any], partition: int | None = None) -> ConsumerRecord:
    return record(RAW, key_of(event), orjson.dumps(event), partition)


class RecordingOutbox(MemoryOutbox):
    """Keeps what is still to be delivered (``records``) and, apart, everything ever sent (``sent``)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        await super().send(topic, key, value)
        self.sent.append((topic, key, value))


class MovableClock:
    """A demotion clock a test moves by hand."""

    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at

    def at_wall(self, wall: float) -> float:
        return wall  # receipts keep the broker's time, as on a fixed clock


def worker_context(scoring_model: ScoringModel | None = None, clock: Clock | None = None) -> WorkerContext:
    """One worker's context in memory; its demotion clock stands at NOW unless ``clock`` moves."""
    env = {"LEADSTREAM_PARTITIONS": str(PARTITIONS), "LEADSTREAM_CLOCK": f"fixed:{NOW.isoformat()}"}
    chosen = scoring_model or model()
    return in_memory_context(settings_from(env), model=lambda: chosen, outbox=RecordingOutbox(), clock=clock,
                             wall_clock=NOW.timestamp)


class Topology:
    """The pipeline of one worker owning every partition, with its outbox standing in for Kafka."""

    def __init__(self, context: WorkerContext | None = None) -> None:
        self.context = context or worker_context()
        assert isinstance(self.context.outbox, RecordingOutbox)
        self.outbox: RecordingOutbox = self.context.outbox

    async def ingest(self, *records: ConsumerRecord) -> None:
        """One batch of raw records, then whatever it forwarded, until nothing is left to hand on."""
        await pipeline.ingest(self.context, list(records))
        await self.settle()

    async def send(self, *events: dict[str, Any]) -> None:
        await self.ingest(*(raw(event) for event in events))

    async def command(self, key: bytes, value: bytes) -> None:
        """A command on leads.signals, as a timer, the lead API or another partition sends it."""
        await pipeline.score_forwarded(self.context, [record(self.context.topics.signals, key, value)])
        await self.settle()

    async def settle(self) -> None:
        """Hand forwards and account updates on, as the brokers would, until none is left."""
        topics = self.context.topics
        while True:
            if forwarded := self.outbox.take(topics.signals):
                await pipeline.score_forwarded(self.context, [record(topics.signals, k, v) for k, v in forwarded])
            elif members := self.outbox.take(topics.account_members):
                await pipeline.score_accounts(self.context, [record(topics.account_members, k, v) for k, v in members])
            else:
                self.outbox.records.clear()  # the rest leaves the worker: changelogs, changes, dead letters
                return

    @property
    def sent(self) -> list[tuple[str, bytes | None, bytes | None]]:
        return self.outbox.sent

    def on(self, topic: str) -> list[tuple[bytes | None, bytes | None]]:
        return [(key, value) for name, key, value in self.sent if name == topic]

    def changes(self, lead: str | None = None) -> list[dict[str, Any]]:
        """The qualification changes sent (of ``lead``, if named), in order; erasure events left out."""
        found = [orjson.loads(value) for _, value in self.on(self.context.topics.qualification) if value]
        return [c for c in found if c.get("kind") == "qualification_change" and (lead is None or c["lead_id"] == lead)]

    def batch_links(self, lead: str) -> tuple[list[str], list[str]]:
        """The visitor ids and feedback ids the lead's record remembers (what its erasure must reach)."""
        return lead_records.decode_links(lead_records.links_of(self.context.leads.data.get(lead.encode())))

    def stored(self, lead: str) -> Any:
        """The lead's state as its table holds it, or None."""
        return stored_state(lead.encode(), self.context.leads.data.get(lead.encode()))


def transitions(changes: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(c["from_stage"], c["to_stage"], c["from_temperature"], c["to_temperature"]) for c in changes]
