"""A real ``leadstream worker`` process on real Kafka, and the tools tests drive it with.

Each test module gets its own topic prefix and consumer group, so its worker's accounting
counts exactly the events that module sent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools.processes import CollectorProcess, WorkerProcess

# Faust's defaults (60 s) would make every join and rebalance in the suite slow, and the worker's
# timers' (a commit every 2.8 s, a lag probe every 10 s) every wait on a commit or a probe.
FAST_WORKER_ENV = {
    "LEADSTREAM_SESSION_TIMEOUT_S": "6",
    "LEADSTREAM_HEARTBEAT_INTERVAL_S": "1",
    "LEADSTREAM_REBALANCE_TIMEOUT_S": "10",
    "LEADSTREAM_COMMIT_INTERVAL_S": "0.5",
    "LEADSTREAM_LAG_PROBE_S": "1",
    "LEADSTREAM_HEAL_CHECK_S": "1",
}
# Scripted journeys happen at fixed past times (T0 below); on the wall clock their scores would
# decay weeks at once and demotions would interleave with the changes a test expects. Demotion
# tests set their own clock.
SCRIPTED_CLOCK_ENV = {"LEADSTREAM_CLOCK": "fixed:2026-11-02T12:00:00+00:00"}
TEST_PARTITIONS = 4
# The topics a worker's group reads (streams/worker/agents.py): once it has committed their ends,
# everything it was sent has been handled and, Faust flushing its producer before each commit,
# everything that produced is on its topic.
CONSUMED_TOPICS = ("leads.events.raw", "leads.signals", "accounts.members")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def at(minutes: float) -> str:
    """An event time ``minutes`` after a fixed start: journeys are reproducible."""
    return (T0 + timedelta(minutes=minutes)).isoformat()


def page(lead: str, event_id: str, path: str, minutes: float = 0.0) -> dict[str, Any]:
    return {"type": "page", "messageId": event_id, "userId": lead, "properties": {"path": path},
            "timestamp": at(minutes)}


def track(lead: str, event_id: str, name: str, minutes: float = 0.0) -> dict[str, Any]:
    return {"type": "track", "messageId": event_id, "userId": lead, "event": name, "timestamp": at(minutes)}


# A profile that matches the default model's ideal customer profile (fit 100).
ICP_TRAITS = {"title": "VP Marketing", "industry": "software", "employees": 400, "country": "US"}


def identify(lead: str, event_id: str, email: str, minutes: float = 0.0, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": event_id, "userId": lead,
            "traits": {"email": email, **ICP_TRAITS, **traits}, "timestamp": at(minutes)}


def visit(visitor: str, event_id: str, path: str, minutes: float = 0.0) -> dict[str, Any]:
    """An anonymous page view: only the visitor id (analytics.js's anonymousId) is known."""
    return {"type": "page", "messageId": event_id, "anonymousId": visitor, "properties": {"path": path},
            "timestamp": at(minutes)}


def identify_visitor(lead: str, visitor: str, event_id: str, email: str, minutes: float = 0.0) -> dict[str, Any]:
    """identify as analytics.js sends it: the new userId beside the visitor's anonymousId."""
    return {**identify(lead, event_id, email, minutes), "anonymousId": visitor}


def answers(lead: str, event_id: str, minutes: float = 0.0, **criteria: Any) -> dict[str, Any]:
    """A form submission carrying criterion answers (as a quiz, chatbot or sales note would)."""
    return {"type": "track", "messageId": event_id, "userId": lead, "event": "Qualification Form Submitted",
            "properties": {"criteria": criteria}, "timestamp": at(minutes)}


@dataclass
class TopicRecorder:
    """Consumes topics from the beginning in the background and keeps every record."""

    bootstrap: str
    topics: tuple[str, ...]
    records: dict[str, list[tuple[bytes | None, bytes]]] = field(default_factory=dict)
    read_up_to: dict[TopicPartition, int] = field(default_factory=dict)  # the offset after the last record read
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """Connection settings (TLS, SASL) for every client that reads these topics' broker."""
        return {}

    async def start(self) -> None:
        self.records = {topic: [] for topic in self.topics}
        self._consumer = AIOKafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap,
                                          auto_offset_reset="earliest", metadata_max_age_ms=1000,
                                          **self.client_kwargs())
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            self.records[record.topic].append((record.key, record.value))
            self.read_up_to[TopicPartition(record.topic, record.partition)] = record.offset + 1

    async def read_to_end(self, timeout: float = 30.0) -> None:
        """Until every recorded topic has been read up to the end offsets it has now."""
        assert self._consumer is not None
        tps = [TopicPartition(topic, p) for topic in self.topics for p in range(TEST_PARTITIONS)]
        ends = await self._consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while behind := {tp: end for tp, end in ends.items() if self.read_up_to.get(tp, 0) < end}:
            if time.monotonic() > deadline:
                raise AssertionError(f"the recorder never read up to {behind}; read {self.read_up_to}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()

    async def wait_for(self, topic: str, predicate: Callable[[list[dict[str, Any]]], bool],
                       timeout: float = 30.0) -> list[dict[str, Any]]:
        """Decoded records of ``topic`` once ``predicate`` holds for them; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            decoded = [orjson.loads(value) for _, value in self.records[topic]]
            if predicate(decoded):
                return decoded
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting on {topic}; have {len(decoded)} records: {decoded[-5:]}")
            await asyncio.sleep(0.2)


BUCKETS = ("received", "scored", "ignored", "deduplicated", "dead_lettered", "held", "handed_over")


def summed_accounting(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One accounting over several workers: each counts what passed through its own partitions."""
    total: dict[str, Any] = {bucket: sum(part[bucket] for part in parts) for bucket in BUCKETS}
    for by_reason in ("received_by_source", "ignored_by_reason", "dead_lettered_by_reason"):
        merged: dict[str, int] = {}
        for part in parts:
            for reason, count in part[by_reason].items():
                merged[reason] = merged.get(reason, 0) + count
        total[by_reason] = merged
    total["balanced"] = total["received"] == sum(total[b] for b in BUCKETS if b != "received")
    return total


@dataclass
class RunningPipeline:
    """Worker processes plus a producer and recorders on one isolated set of topics."""

    bootstrap: str
    prefix: str
    workers: list[WorkerProcess]
    producer: AIOKafkaProducer
    recorder: TopicRecorder
    sent: int = 0
    log_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # what every worker was started with
    _admin: AIOKafkaAdminClient | None = None

    def add_worker(self, env: dict[str, str] | None = None) -> WorkerProcess:
        """Start one more worker in the group (not waiting for it): a rebalance follows."""
        assert self.log_dir is not None
        worker = worker_process(self.bootstrap, self.log_dir, self.prefix, len(self.workers), {**self.env, **(env or {})})
        worker.start()
        self.workers.append(worker)
        return worker

    @property
    def worker(self) -> WorkerProcess:
        return self.workers[0]

    def topic(self, name: str) -> str:
        return self.prefix + name

    def recorder_for(self, name: str) -> TopicRecorder:
        assert self.topic(name) in self.recorder.topics, f"{name} is not recorded"
        return self.recorder

    async def send(self, message: dict[str, Any] | bytes, key: str | bytes | None = None) -> None:
        value = message if isinstance(message, bytes) else orjson.dumps(message)
        if key is None and isinstance(message, dict):
            key = message.get("userId") or message.get("anonymousId")
        await self.producer.send_and_wait(
            self.topic("leads.events.raw"), value, key=key.encode() if isinstance(key, str) else key
        )
        self.sent += 1

    async def send_all(self, messages: Iterable[dict[str, Any] | bytes]) -> None:
        for message in messages:
            await self.send(message)

    async def wait_for_changes(self, lead: str, at_least: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The lead's distinct changes once there are ``at_least``; more may be on their way.

        For tests on the wall clock, where demotions keep coming: elsewhere ``changes_for``.
        """
        def distinct(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            seen: dict[str, dict[str, Any]] = {}
            for record in records:
                if record["lead_id"] == lead:
                    seen.setdefault(record["change_id"], record)
            return sorted(seen.values(), key=lambda change: change["sequence"])

        records = await self.recorder.wait_for(
            self.topic("leads.qualification"), lambda rs: len(distinct(rs)) >= at_least, timeout
        )
        return distinct(records)

    async def changes_for(self, lead: str, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The lead's distinct changes, asserting there are exactly ``count`` once everything sent is handled."""
        await self.wait_for_changes(lead, count, timeout)
        await self.caught_up(timeout)
        changes = await self.wait_for_changes(lead, count, timeout)
        assert len(changes) == count, [(c["to_stage"], c["to_temperature"], c["cause"]) for c in changes]
        return changes

    async def caught_up(self, timeout: float = 60.0) -> None:
        """Until the workers have handled everything sent and the recorder has read everything they produced."""
        await self.committed_everything(timeout)
        await self.recorder.read_to_end(timeout)

    async def committed_everything(self, timeout: float = 60.0) -> dict[TopicPartition, int]:
        """Until the group has committed the end of every topic it reads; returns those end offsets."""
        assert self.recorder._consumer is not None
        tps = [TopicPartition(self.topic(name), p) for name in CONSUMED_TOPICS for p in range(TEST_PARTITIONS)]
        deadline = time.monotonic() + timeout
        while True:
            committed = await self.committed_offsets(tps)
            ends = await self.recorder._consumer.end_offsets(tps)
            behind = {tp: ends[tp] - committed[tp] for tp in tps if committed[tp] < ends[tp]}
            if not behind:
                return ends
            if time.monotonic() > deadline:
                raise AssertionError(f"the workers never committed everything; behind by {behind}")
            await asyncio.sleep(0.1)

    async def committed_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offsets of ``tps`` as the broker has them.

        A partition the group never committed on reads back as offset -1 (or not at all): nothing read yet, 0.
        """
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **self.recorder.client_kwargs())
            await self._admin.start()
        group = self.worker.extra_env["LEADSTREAM_APP_ID"]
        committed = await self._admin.list_consumer_group_offsets(group, partitions=tps)
        return {tp: max(committed[tp].offset, 0) if tp in committed else 0 for tp in tps}

    async def lead(self, lead: str) -> tuple[int, dict[str, Any]]:
        """GET /leads/{lead} from the first worker (forwarded to the owner)."""
        return await self.worker.get_json(f"/leads/{lead}")

    async def lead_when(self, lead: str, predicate: Callable[[dict[str, Any]], bool],
                        timeout: float = 30.0) -> dict[str, Any]:
        """The lead's document once ``predicate`` holds for it; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            status, document = await self.lead(lead)
            if status == 200 and predicate(document):
                return document
            if time.monotonic() > deadline:
                raise AssertionError(f"lead {lead} never matched: {status} {document}")
            await asyncio.sleep(0.2)

    async def accounting(self) -> dict[str, Any]:
        return summed_accounting([(await worker.get_json("/accounting"))[1] for worker in self.workers])

    async def settled_accounting(self, timeout: float = 30.0) -> dict[str, Any]:
        """The accounting once every event sent so far has been received and put in a bucket."""
        deadline = time.monotonic() + timeout
        while True:
            accounting = await self.accounting()
            if accounting["received"] >= self.sent and accounting["balanced"]:
                return accounting
            if time.monotonic() > deadline:
                raise AssertionError(f"sent {self.sent}, accounting never settled: {accounting}")
            await asyncio.sleep(0.2)


async def start_pipeline(
    bootstrap: str, log_dir: Path, workers: int = 1, env: dict[str, str] | None = None, prefix: str | None = None,
) -> RunningPipeline:
    """``prefix``: the topics' (a test that creates one of them first with its own config names it)."""
    prefix = prefix or f"t{uuid.uuid4().hex[:8]}."
    processes = [worker_process(bootstrap, log_dir, prefix, index, env) for index in range(workers)]
    for worker in processes:
        worker.start()
    for worker in processes:
        await worker.wait_ready()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    recorder = TopicRecorder(bootstrap, (prefix + "leads.qualification", prefix + "leads.events.dlq",
                                         prefix + "leads.signals", prefix + "leads.feedback",
                                         prefix + "accounts.members", prefix + "accounts.qualification"))
    await recorder.start()
    return RunningPipeline(bootstrap, prefix, processes, producer, recorder, log_dir=log_dir, env=dict(env or {}))


def worker_process(
    bootstrap: str, log_dir: Path, prefix: str, index: int, env: dict[str, str] | None = None,
) -> WorkerProcess:
    """Worker ``index`` of the pipeline on ``prefix``'s topics (not started)."""
    return WorkerProcess(bootstrap, log_dir / f"worker-{index}-{prefix}log", env={
        **FAST_WORKER_ENV,
        **SCRIPTED_CLOCK_ENV,
        "LEADSTREAM_APP_ID": f"leadstream-{prefix[:-1]}",
        "LEADSTREAM_TOPIC_PREFIX": prefix,
        "LEADSTREAM_PARTITIONS": str(TEST_PARTITIONS),
        "LEADSTREAM_DATA_DIR": str(log_dir / f"data-{index}-{prefix[:-1]}"),
        **(env or {}),
    })


async def start_collector(
    pipeline: RunningPipeline, log_dir: Path, env: dict[str, str] | None = None,
) -> CollectorProcess:
    """A ``leadstream collector`` process producing to the pipeline's own topics."""
    collector = CollectorProcess(pipeline.bootstrap, log_dir / f"collector-{pipeline.prefix}log", env={
        "LEADSTREAM_APP_ID": f"leadstream-{pipeline.prefix[:-1]}",
        "LEADSTREAM_TOPIC_PREFIX": pipeline.prefix,
        "LEADSTREAM_PARTITIONS": str(TEST_PARTITIONS),
        **(env or {}),
    })
    collector.start()
    await collector.wait_ready(timeout=60.0)
    return collector


async def settled_behind(collector: CollectorProcess, pipeline: RunningPipeline, timeout: float = 30.0) -> dict[str, Any]:
    """The workers' accounting once they have read everything the collector accepted, both balanced."""
    deadline = time.monotonic() + timeout
    while True:
        accepted = (await collector.get_json("/accounting"))[1]
        worker = await pipeline.accounting()
        if worker["received"] >= accepted["accepted"] and worker["balanced"] and accepted["balanced"]:
            return worker
        if time.monotonic() > deadline:
            raise AssertionError(f"never settled: collector {accepted}, worker {worker}")
        await asyncio.sleep(0.2)


async def stop_pipeline(pipeline: RunningPipeline) -> None:
    if pipeline._admin is not None:
        await pipeline._admin.close()
    await pipeline.recorder.stop()
    await pipeline.producer.stop()
    for worker in pipeline.workers:
        worker.stop()


async def metric_total(pipeline: RunningPipeline, name: str, **labels: str) -> float:
    """The sum of a metric's samples (with ``labels``) over the pipeline's workers, scraped now."""
    total = 0.0
    for worker in pipeline.workers:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{worker.url}/metrics") as response:
                text = await response.text()
        for family in text_string_to_metric_families(text):
            total += sum(s.value for s in family.samples
                         if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))
    return total
