"""Builders and real servers for the alerts tests: qualification changes, a topic, a webhook receiver.

Changes are the scoring core's own ``QualificationChange`` objects written with the worker's
codec (``streams.contracts.encode_change``) and checked against the topic's JSON Schema; the
topic is real (Apache Kafka, 4 partitions) and the webhook is a real aiohttp server on
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import orjson
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from prometheus_client import REGISTRY

from scoring import Contribution, QualificationChange, Scores, Stage, Status, Temperature
from scoring.changes import change_id
from streams.alerting import AlertOptions, AlertStats, alert_options_from, run_alerts
from streams.contracts.change_records import change_to_dict, encode_change
from streams.config.environment import settings_from
from tests.contracts import assert_matches_contract

T = TypeVar("T")
ALERT_TEST_PARTITIONS = 4
T0 = 1_793_610_000.0  # 2026-11-02T09:00:00Z: changes carry fixed times
BANT_MET = {"budget": Status.MET, "authority": Status.MET, "need": Status.MET, "timeline": Status.MET}
HOT_REASONS = (
    Contribution("demo_request", 30.0, T0 - 60, 1),
    Contribution("pricing_view", 27.5, T0 - 600, 3),
    Contribution("webinar_attended", 19.2, T0 - 86_400, 1),
)


# --- qualification changes -----------------------------------------------------------------

def qualification_change(
    lead: str,
    cause: str,
    from_: tuple[str, str],
    to: tuple[str, str],
    *,
    account: str | None = "acme.io",
    sequence: int = 1,
    criteria: Mapping[str, Status] = BANT_MET,
    reasons: tuple[Contribution, ...] = HOT_REASONS,
    disqualified_by: tuple[str, ...] = (),
    grade: str | None = "A1",
) -> QualificationChange:
    """A change of ``lead`` from (stage, temperature) to (stage, temperature), caused by event ``cause``."""
    return QualificationChange(
        change_id=change_id(lead, cause), lead_id=lead, sequence=sequence, account=account,
        from_stage=Stage(from_[0]), from_temperature=Temperature(from_[1]),
        to_stage=Stage(to[0]), to_temperature=Temperature(to[1]),
        scores=Scores(interest=19.2, intent=57.5, negative=0.0, product=0.0, fit=100.0),
        reasons=reasons,
        fit_reasons=(("industry software", 25.0), ("title decision_maker", 30.0)),
        framework="bant",
        criteria=MappingProxyType(dict(criteria)),
        disqualified_by=disqualified_by,
        model_version="2026.11-test",
        cause_event_id=cause,
        event_time=T0,
        grade=grade,
    )


def turning_hot(lead: str, cause: str = "demo-1", **fields: Any) -> QualificationChange:
    return qualification_change(lead, cause, ("mql", "warm"), ("sql", "hot"), **fields)


def warming(lead: str, cause: str = "webinar-1", **fields: Any) -> QualificationChange:
    fields.setdefault("criteria", {"budget": Status.UNKNOWN, "authority": Status.MET, "need": Status.MET,
                                   "timeline": Status.NOT_MET})
    return qualification_change(lead, cause, ("iql", "cold"), ("mql", "warm"), **fields)


def disqualified(lead: str, cause: str = "bounce-1", **fields: Any) -> QualificationChange:
    return qualification_change(lead, cause, ("mql", "warm"), ("disqualified", "cold"),
                                disqualified_by=("signal email_hard_bounce",), **fields)


def encoded(change: QualificationChange, emitted_at: float = T0 + 1) -> bytes:
    """The bytes the worker would write, checked against the leads.qualification contract."""
    assert_matches_contract("leads.qualification", change_to_dict(change, emitted_at, T0))
    return encode_change(change, emitted_at, T0)


# --- the topic -----------------------------------------------------------------------------

@dataclass
class QualificationTopic:
    """A fresh prefixed qualification topic with a producer; remembers the end offset of each partition."""

    bootstrap: str
    prefix: str
    producer: AIOKafkaProducer
    end_offsets: dict[int, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.prefix + "leads.qualification"

    async def send(self, change: QualificationChange | bytes, key: str | None = None,
                   emitted_at: float = T0 + 1) -> None:
        if isinstance(change, QualificationChange):
            key = key or change.lead_id
            value = encoded(change, emitted_at)
        else:
            value = change
        sent = await self.producer.send_and_wait(self.name, value, key=key.encode() if key else None)
        self.end_offsets[sent.partition] = max(self.end_offsets.get(sent.partition, 0), sent.offset + 1)


@pytest_asyncio.fixture(loop_scope="session")
async def topic(kafka_bootstrap: str):
    """A fresh qualification topic per test (import it into the test module to use it)."""
    created = await create_qualification_topic(kafka_bootstrap)
    yield created
    await created.producer.stop()


async def create_qualification_topic(bootstrap: str) -> QualificationTopic:
    prefix = f"alerts{uuid.uuid4().hex[:8]}."
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(prefix + "leads.qualification", ALERT_TEST_PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await producer.start()
    return QualificationTopic(bootstrap, prefix, producer)


def options_for(topic: QualificationTopic, data_dir: Path, **cli_values: Any) -> AlertOptions:
    """Options as the CLI would build them, on the test's topic prefix and data dir, with tiny backoff."""
    settings = settings_from({
        "KAFKA_BOOTSTRAP_SERVERS": topic.bootstrap,
        "LEADSTREAM_TOPIC_PREFIX": topic.prefix,
        "LEADSTREAM_APP_ID": f"leadstream-{topic.prefix[:-1]}",
        "LEADSTREAM_DATA_DIR": str(data_dir),
    })
    cli_values.setdefault("backoff_base_s", 0.01)
    cli_values.setdefault("request_timeout_s", 2.0)
    return alert_options_from(settings, **cli_values)


# --- running the consumer ----------------------------------------------------------------

async def committed_offsets(bootstrap: str, group_id: str, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """The group's committed offset of each partition of ``topic`` (partitions never committed are absent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                offsets = await admin.list_consumer_group_offsets(group_id)
                break
            except KafkaError as exc:
                # On a fresh broker the offsets topic, and so every group coordinator, appears lazily.
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


async def run_until_caught_up(options: AlertOptions, topic: QualificationTopic, timeout: float = 20.0) -> AlertStats:
    """Runs the alerts consumer until its group has committed every record sent so far, then stops it."""
    return await run_until_committed(lambda stop: run_alerts(options, stop), options.group_id, topic, timeout)


async def run_until_committed(run_until: Callable[[asyncio.Event], Awaitable[T]], group_id: str,
                              topic: QualificationTopic, timeout: float = 20.0) -> T:
    """Runs a consumer (``run_until(stop)``) until ``group_id`` has committed every record sent so far; its result."""
    stop = asyncio.Event()
    run = asyncio.create_task(run_until(stop))
    deadline = time.monotonic() + timeout
    try:
        while (committed := await committed_offsets(topic.bootstrap, group_id, topic.name)) != topic.end_offsets:
            if run.done():
                run.result()  # raises what stopped it
                raise AssertionError(f"the consumer stopped early; committed {committed}")
            if time.monotonic() > deadline:
                raise AssertionError(f"committed {committed}, never reached {topic.end_offsets}")
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        result = await asyncio.wait_for(run, 30)
    return result


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 10.0) -> list[tuple[bytes, bytes]]:
    """The first ``count`` records (key, value) of every partition of ``topic``, from the beginning."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    records: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend((record.key, record.value) for record in batch)
    finally:
        await consumer.stop()
    return records


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- the webhook receiver ---------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    """How the receiver answers one POST."""

    status: int = 200
    delay_s: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedPost:
    headers: Mapping[str, str]
    body: dict[str, Any]
    at: float


class LocalServer:
    """A real aiohttp server on 127.0.0.1 whose routes a subclass adds (``routes``)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port  # None: a free one; a fixed one lets a test refuse connections there first
        self._server: TestServer | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self.routes(app)
        self._server = TestServer(app, host="127.0.0.1", port=self.port)
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    def url_of(self, path: str) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.make_url(path))


class WebhookReceiver(LocalServer):
    """A real HTTP server on 127.0.0.1 that records every POST and answers from a script, then 200."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.posts: list[ReceivedPost] = []
        self.script: list[Answer] = []
        self.always: Answer = Answer(200)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks/{secret}", self._receive)

    @property
    def url(self) -> str:
        return self.url_of("/hooks/T000-secret")

    def answer(self, *answers: Answer, then: Answer = Answer(200)) -> None:
        self.script = list(answers)
        self.always = then

    async def _receive(self, request: web.Request) -> web.Response:
        self.posts.append(ReceivedPost(dict(request.headers), orjson.loads(await request.read()), time.monotonic()))
        answer = self.script.pop(0) if self.script else self.always
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        return web.Response(status=answer.status, headers=dict(answer.headers), text="ok" if answer.status < 300
                            else f"answered {answer.status}")


def block_text(message: dict[str, Any]) -> str:
    """Every piece of text in a Slack message's blocks, joined: what a reader of the alert sees."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message["blocks"])
    return "\n".join(texts)
