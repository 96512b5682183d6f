"""Erasure on real Kafka reaches every store: by e-mail, by visitor id, and of an id never seen.

After each, nothing the app keeps names the id: no table (read back from its changelog, as a
restarted worker would rebuild it), no compacted topic (each record naming it has a tombstone
after it), no alert store or dead-letter file, no export; the compacted topics carry the
compaction bound that makes those tombstones take effect; and later events for the id are ignored.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.alerting import alert_options_from, run_alerts
from streams.config.environment import settings_from
from streams.contracts.topic_admin import COMPACTION_BOUND_MS
from tests.e2e.cli import leadstream_command
from tests.fault.harness import read_topic
from tests.integration.alert_fixtures import Answer, WebhookReceiver
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, answers, identify, identify_visitor, page, start_pipeline, stop_pipeline, track, visit,
)

pytestmark = [pytest.mark.kafka, pytest.mark.security, pytest.mark.asyncio(loop_scope="session")]
TABLES = ("leads", "visitors", "accounts", "erasures", "emails")


class Stack:
    def __init__(self, pipeline: RunningPipeline, data_dir: Path, receiver: WebhookReceiver) -> None:
        self.pipeline, self.data_dir, self.receiver = pipeline, data_dir, receiver

    @property
    def app_id(self) -> str:
        return f"leadstream-{self.pipeline.prefix[:-1]}"

    def compacted_topics(self) -> list[str]:
        return [*(f"{self.app_id}-{table}-changelog" for table in TABLES), self.pipeline.topic("leads.feedback"),
                self.pipeline.topic("leads.alerts.dlq")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("erasure")
    pipeline = await start_pipeline(kafka_bootstrap, log_dir)
    receiver = WebhookReceiver()  # a real local server standing in for Slack: it refuses every alert
    await receiver.start()
    receiver.answer(then=Answer(400))
    data_dir = log_dir / "alerts"
    settings = settings_from({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LEADSTREAM_TOPIC_PREFIX": pipeline.prefix,
                              "LEADSTREAM_APP_ID": f"leadstream-{pipeline.prefix[:-1]}",
                              "LEADSTREAM_DATA_DIR": str(data_dir)})
    stop = asyncio.Event()
    alerts = asyncio.create_task(run_alerts(alert_options_from(
        settings, webhook_url=receiver.url, dlq_topic=True, attempts=1, request_timeout_s=2.0), stop))
    yield Stack(pipeline, data_dir, receiver)
    stop.set()
    await asyncio.wait_for(alerts, 15)
    await receiver.close()
    await stop_pipeline(pipeline)


async def delete(stack: Stack, subject: str) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.delete(f"{stack.pipeline.worker.url}/leads/{subject}") as response:
            body = await response.json(content_type=None)
            assert response.status == 200, body
            return body


async def compaction_bounds(bootstrap: str, topics: list[str]) -> dict[str, str | None]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics])
    finally:
        await admin.close()
    bounds: dict[str, str | None] = {}
    for response in responses:
        for _, _, _, topic, entries in response.resources:
            bounds[topic] = next((e[1] for e in entries if e[0] == "max.compaction.lag.ms"), None)
    return bounds


async def until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.2)


def alert_files(stack: Stack) -> bytes:
    """Every byte `leadstream alerts` keeps on disk: its sqlite store (with its journal) and dead-letter file."""
    return b"".join(path.read_bytes() for path in sorted(stack.data_dir.iterdir()) if path.is_file())


def export(stack: Stack, output: Path) -> bytes:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.pipeline.bootstrap,
           "LEADSTREAM_TOPIC_PREFIX": stack.pipeline.prefix, "LEADSTREAM_APP_ID": stack.app_id}
    run = subprocess.run([*leadstream_command(), "export", "--output", str(output)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return output.read_bytes()


async def still_named(stack: Stack, needles: list[bytes]) -> list[str]:
    """The compacted topics' keys whose latest record still names an id, or that name it without a tombstone."""
    unerased = []
    for topic in stack.compacted_topics():
        latest: dict[bytes | None, bytes | None] = {}
        named: set[bytes | None] = set()
        partitions = 1 if topic.endswith("leads.alerts.dlq") else TEST_PARTITIONS  # the alerts' own topic has one
        for key, value in await read_topic(stack.pipeline.bootstrap, topic, partitions):
            latest[key] = value
            if any(n in (key or b"") or n in (value or b"") for n in needles):
                named.add(key)
        for key in named:  # every record naming it is superseded: by a tombstone where the key names it
            value = latest[key]
            if any(n in (value or b"") for n in needles):
                unerased.append(f"{topic}: {key!r} still names it")
            elif any(n in (key or b"") for n in needles) and value is not None:
                unerased.append(f"{topic}: {key!r} has no tombstone")
    return unerased


async def assert_nothing_keeps(stack: Stack, subjects: list[str], tmp_path: Path) -> None:
    bootstrap = stack.pipeline.bootstrap
    needles = [subject.encode() for subject in subjects]
    # The erasure's answer comes from the id's own partition; the account's and the linked ids'
    # records follow through leads.signals and accounts.members, within seconds.
    deadline = asyncio.get_running_loop().time() + 30.0
    while unerased := await still_named(stack, needles):
        assert asyncio.get_running_loop().time() < deadline, unerased
        await asyncio.sleep(0.5)
    bounds = await compaction_bounds(bootstrap, stack.compacted_topics())
    assert bounds == {topic: str(COMPACTION_BOUND_MS) for topic in stack.compacted_topics()}, bounds
    await until(lambda: _absent(alert_files(stack), needles), "the alerts' files still name the id")
    exported = export(stack, tmp_path / "history.jsonl")
    assert not any(n in exported for n in needles)


async def _absent(data: bytes, needles: list[bytes]) -> bool:
    return not any(n in data for n in needles)


async def ignored_later(stack: Stack, events: list[dict]) -> None:
    """Later events for an erased id are ignored (erased_lead), and no lead comes back."""
    before = await stack.pipeline.settled_accounting()
    await stack.pipeline.send_all(events)
    after = await stack.pipeline.settled_accounting()
    ignored = after["ignored_by_reason"].get("erased_lead", 0) - before["ignored_by_reason"].get("erased_lead", 0)
    assert ignored == len(events), (before, after)
    assert after["scored"] == before["scored"]


async def test_erasure_by_email_removes_the_lead_its_visitor_feedback_and_alerts_everywhere(
    stack: Stack, tmp_path: Path,
):
    pipeline, email, visitor = stack.pipeline, "erin@acme.io", "erin-visitor"
    await pipeline.send_all([visit(visitor, "e-1", "/pricing", 0), visit(visitor, "e-2", "/pricing/plans", 1),
                             identify_visitor(email, visitor, "e-3", email, 2),
                             track(email, "e-4", "Webinar Attended", 3), track(email, "e-5", "Demo Requested", 4),
                             answers(email, "e-6", 5, budget="yes", authority="yes", need="yes", timeline="Q1")])
    await pipeline.changes_for(email, count=3)
    await until(lambda: _present(alert_files(stack), email.encode()), "the refused alert never reached the file")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{pipeline.worker.url}/leads/{email}/feedback",
                                data=orjson.dumps({"verdict": "rejected", "reason": f"{email} has no budget"}),
                                headers={"Content-Type": "application/json"}) as response:
            assert response.status == 202
    await pipeline.recorder.wait_for(pipeline.topic("leads.feedback"),
                                     lambda records: any(r and r["lead_id"] == email for r in records))

    erased = await delete(stack, email)

    assert erased["erased"]["lead_state"] and erased["erased"]["linked_visitors"] == 1
    assert erased["erased"]["feedback_records"] == 1
    assert (await pipeline.lead(email))[0] == 404
    await assert_nothing_keeps(stack, [email, visitor], tmp_path)
    await ignored_later(stack, [page(email, "e-7", "/pricing", 6), visit(visitor, "e-8", "/pricing", 7)])


async def _present(data: bytes, needle: bytes) -> bool:
    return needle in data


async def test_erasure_by_email_reaches_a_lead_known_by_a_user_id_whose_profile_states_it(
    stack: Stack, tmp_path: Path,
):
    # The CRM knows the person as a userId; they ask to be forgotten by the e-mail they gave.
    pipeline, lead, email, visitor = stack.pipeline, "crm-0000417", "ula@acme.io", "ula-visitor"
    await pipeline.send_all([visit(visitor, "u-1", "/pricing", 0), identify_visitor(lead, visitor, "u-2", email, 1),
                             track(lead, "u-3", "Webinar Attended", 2), track(lead, "u-4", "Demo Requested", 3),
                             answers(lead, "u-5", 4, budget="yes", authority="yes", need="yes", timeline="Q1")])
    await pipeline.changes_for(lead, count=3)
    await until(lambda: _present(alert_files(stack), lead.encode()), "the refused alert never reached the file")

    erased = await delete(stack, email)

    assert erased["erased"]["leads_stating_email"] == 1
    await until(lambda: _gone(stack, lead), "the lead stating the e-mail was not erased")
    await assert_nothing_keeps(stack, [lead, email, visitor], tmp_path)
    await ignored_later(stack, [page(lead, "u-6", "/pricing", 5), visit(visitor, "u-7", "/pricing", 6)])


async def _gone(stack: Stack, lead: str) -> bool:
    return (await stack.pipeline.lead(lead))[0] == 404


async def test_erasure_by_visitor_id_removes_its_held_history(stack: Stack, tmp_path: Path):
    pipeline, visitor = stack.pipeline, "only-a-visitor"
    await pipeline.send_all([visit(visitor, "o-1", "/pricing", 0), visit(visitor, "o-2", "/docs", 1)])
    held = (await pipeline.settled_accounting())["held"]

    erased = await delete(stack, visitor)

    assert erased["erased"]["visitor_record"] and erased["erased"]["held_anonymous_events"] == 2
    accounting = await pipeline.settled_accounting()
    assert accounting["held"] == held - 2 and accounting["balanced"], accounting
    await assert_nothing_keeps(stack, [visitor], tmp_path)
    await ignored_later(stack, [visit(visitor, "o-3", "/pricing", 2)])


async def test_erasure_of_an_id_never_seen_is_recorded_and_its_later_events_are_ignored(
    stack: Stack, tmp_path: Path,
):
    subject = "never-seen@acme.io"

    erased = await delete(stack, subject)

    assert not erased["erased"]["lead_state"] and not erased["erased"]["visitor_record"]
    assert (await delete(stack, subject)).get("already_erased") is True
    await assert_nothing_keeps(stack, [subject], tmp_path)
    await ignored_later(stack, [identify(subject, "n-1", subject, 0), page(subject, "n-2", "/pricing", 1)])
    assert (await stack.pipeline.lead(subject))[0] == 404
