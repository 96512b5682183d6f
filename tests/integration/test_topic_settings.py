"""The topics a worker creates carry the retention, compaction and replication docs/operations.md promises.

Read back from the broker (describe configs / describe topics) after a real worker started on
its own prefix: the expected values are the documented ones, written out here, not the
constants the code uses, so a changed constant shows up as a broken promise.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.alerting.consumer import ensure_topic
from streams.devtools.processes import WorkerFailed, WorkerProcess
from tests.integration.pipeline_harness import TEST_PARTITIONS, worker_process

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]

DAY_MS = 86_400_000
# docs/operations.md, "History and retention": raw events 30 days by default, feedback 365 days,
# the applied model forever, dead letters 30 days, the other topics 14 days.
DOCUMENTED_RETENTION_MS = {
    "leads.events.raw": 30 * DAY_MS,
    "leads.events.dlq": 30 * DAY_MS,
    "leads.feedback": 365 * DAY_MS,
    "leads.control": -1,
    "leads.signals": 14 * DAY_MS,
    "leads.qualification": 14 * DAY_MS,
    "leads.qualification.replay": 14 * DAY_MS,
    "leads.qualification.shadow": 14 * DAY_MS,
    "accounts.members": 14 * DAY_MS,
    "accounts.qualification": 14 * DAY_MS,
}
# The applied model is compacted (its latest version kept forever), as are the table changelogs;
# feedback is compacted too (erasure tombstones each verdict) and deleted after its retention.
CLEANUP_POLICIES = {"leads.control": "compact", "leads.feedback": "compact,delete"}
TABLES = ("leads", "erasures", "accounts", "visitors", "emails", "shadow_leads")


@asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


UNKNOWN_TOPIC = 3  # a topic created a moment ago may not be in the broker's metadata yet


async def topic_configs(bootstrap: str, topics: list[str]) -> dict[str, dict[str, str]]:
    """{topic: {config name: value}} as the broker describes them (waiting, bounded, for a new topic)."""
    deadline = time.monotonic() + 15
    while True:
        async with admin_client(bootstrap) as admin:
            responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
        described: dict[str, dict[str, str]] = {}
        unknown = False
        for response in responses:
            for error_code, error_message, _type, name, entries, *_ in response.resources:
                if error_code == UNKNOWN_TOPIC and time.monotonic() < deadline:
                    unknown = True
                    continue
                assert not error_code, f"describing {name}: {error_code} {error_message}"
                described[name] = {entry[0]: entry[1] for entry in entries}
        if not unknown:
            return described
        await asyncio.sleep(0.2)


async def replication_factors(bootstrap: str, topics: list[str]) -> dict[str, set[int]]:
    """{topic: the distinct replica counts of its partitions}."""
    async with admin_client(bootstrap) as admin:
        return {d["topic"]: {len(p["replicas"]) for p in d["partitions"]} for d in await admin.describe_topics(topics)}


async def broker_count(bootstrap: str) -> int:
    async with admin_client(bootstrap) as admin:
        return len((await admin.describe_cluster())["brokers"])


def new_worker(bootstrap: str, log_dir: Path, env: dict[str, str] | None = None) -> tuple[WorkerProcess, str]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    return worker_process(bootstrap, log_dir, prefix, 0, env), prefix


async def started_worker_topics(bootstrap: str, log_dir: Path, env: dict[str, str] | None = None
                                ) -> tuple[str, str]:
    """Starts a worker on its own prefix until ready, stops it; returns its prefix and app id."""
    worker, prefix = new_worker(bootstrap, log_dir, env)
    worker.start()
    try:
        await worker.wait_ready()
    finally:
        worker.stop()
    return prefix, f"leadstream-{prefix[:-1]}"


async def test_a_worker_creates_its_topics_with_the_documented_retention_and_compaction(
    kafka_bootstrap: str, tmp_path: Path,
):
    prefix, app_id = await started_worker_topics(kafka_bootstrap, tmp_path)
    changelogs = [f"{app_id}-{table}-changelog" for table in TABLES]

    configs = await topic_configs(kafka_bootstrap, [prefix + name for name in DOCUMENTED_RETENTION_MS] + changelogs)

    retention = {name: int(configs[prefix + name]["retention.ms"]) for name in DOCUMENTED_RETENTION_MS}
    assert retention == DOCUMENTED_RETENTION_MS
    policies = {name: configs[prefix + name]["cleanup.policy"] for name in DOCUMENTED_RETENTION_MS}
    assert policies == {name: CLEANUP_POLICIES.get(name, "delete") for name in DOCUMENTED_RETENTION_MS}
    assert {configs[changelog]["cleanup.policy"] for changelog in changelogs} == {"compact"}
    # docs/privacy.md's worst case for erasure rests on these, on every compacted topic.
    compacted = [prefix + "leads.feedback", prefix + "leads.control", *changelogs]
    assert {(configs[t]["max.compaction.lag.ms"], configs[t]["segment.ms"], configs[t]["delete.retention.ms"])
            for t in compacted} == {(str(DAY_MS), str(DAY_MS), str(DAY_MS))}


async def refused_start(worker: WorkerProcess, reason: str) -> str:
    """Starts the worker, which must stop (or be stopped) once its log shows ``reason``; returns its log."""
    worker.start()
    try:
        with pytest.raises(WorkerFailed):
            await worker.wait_ready(timeout=45, fails_on=[reason])
    finally:
        worker.kill()
    return worker.log_path.read_text(errors="replace")


async def create_as_an_older_version_did(bootstrap: str, topics: dict[str, dict[str, str]]) -> None:
    async with admin_client(bootstrap) as admin:
        response = await admin.create_topics([NewTopic(name=name, num_partitions=1 if name.endswith("control")
                                                       else TEST_PARTITIONS, replication_factor=1, topic_configs=configs)
                                              for name, configs in topics.items()])
        assert not [error for _, error, *_ in response.topic_errors if error], response


@pytest.mark.security
async def test_a_worker_gives_compacted_topics_an_older_version_made_the_compaction_bound_erasure_needs(
    kafka_bootstrap: str, tmp_path: Path,
):
    # An upgrade: the changelog and the model topic exist, created without max.compaction.lag.ms
    # (so a tombstone could wait forever); an operator's own setting on one of them must survive.
    worker, prefix = new_worker(kafka_bootstrap, tmp_path)
    changelog, control = f"leadstream-{prefix[:-1]}-leads-changelog", prefix + "leads.control"
    await create_as_an_older_version_did(kafka_bootstrap, {
        changelog: {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.2"},
        control: {"cleanup.policy": "compact", "retention.ms": "-1", "max.compaction.lag.ms": str(7 * DAY_MS)}})
    worker.start()
    try:
        await worker.wait_ready()
    finally:
        worker.stop()

    configs = await topic_configs(kafka_bootstrap, [changelog, control])
    for topic in (changelog, control):
        assert configs[topic]["max.compaction.lag.ms"] == str(DAY_MS), configs[topic]
        assert configs[topic]["segment.ms"] == str(DAY_MS) and configs[topic]["delete.retention.ms"] == str(DAY_MS)
        assert configs[topic]["cleanup.policy"] == "compact"
    assert configs[changelog]["min.cleanable.dirty.ratio"] == "0.2"  # the operator's own setting is kept
    assert configs[control]["retention.ms"] == "-1"
    assert "had max.compaction.lag.ms=" in worker.log_path.read_text(errors="replace")  # said in the log


@pytest.mark.security
async def test_leadstream_alerts_gives_its_dead_letter_topic_from_an_older_version_the_compaction_bound(
    kafka_bootstrap: str,
):
    topic = f"t{uuid.uuid4().hex[:8]}.leads.alerts.dlq"
    async with admin_client(kafka_bootstrap) as admin:
        await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1,
                                            topic_configs={"cleanup.policy": "compact,delete"})])

    await ensure_topic(kafka_bootstrap, topic, replication_factor=1)

    configs = (await topic_configs(kafka_bootstrap, [topic]))[topic]
    assert (configs["max.compaction.lag.ms"], configs["segment.ms"], configs["delete.retention.ms"]) == \
        (str(DAY_MS), str(DAY_MS), str(DAY_MS))
    assert configs["cleanup.policy"] == "compact,delete"


@pytest.mark.security
async def test_a_worker_refuses_an_uncompacted_feedback_topic_naming_the_command_that_fixes_it(
    kafka_bootstrap: str, tmp_path: Path,
):
    # Compacting it ourselves could fold older verdicts that share a key: the operator decides.
    worker, prefix = new_worker(kafka_bootstrap, tmp_path)
    await create_as_an_older_version_did(kafka_bootstrap, {prefix + "leads.feedback": {"cleanup.policy": "delete"}})
    log = await refused_start(worker, "is not compacted")

    assert f"{prefix}leads.feedback is not compacted" in log, worker.log_tail()
    assert "--add-config cleanup.policy=[compact,delete]" in log


async def test_the_raw_topics_retention_follows_LEADSTREAM_RAW_RETENTION_DAYS(kafka_bootstrap: str, tmp_path: Path):
    prefix, _ = await started_worker_topics(kafka_bootstrap, tmp_path, {"LEADSTREAM_RAW_RETENTION_DAYS": "2.5"})

    configs = await topic_configs(kafka_bootstrap, [prefix + "leads.events.raw", prefix + "leads.events.dlq"])

    assert int(configs[prefix + "leads.events.raw"]["retention.ms"]) == int(2.5 * DAY_MS)
    assert int(configs[prefix + "leads.events.dlq"]["retention.ms"]) == 30 * DAY_MS  # only the raw topic's


async def test_the_topics_have_the_replication_factor_LEADSTREAM_REPLICATION_FACTOR_asks_for(
    kafka_bootstrap: str, tmp_path: Path,
):
    brokers = await broker_count(kafka_bootstrap)
    prefix, app_id = await started_worker_topics(kafka_bootstrap, tmp_path,
                                                 {"LEADSTREAM_REPLICATION_FACTOR": str(brokers)})
    topics = [prefix + name for name in DOCUMENTED_RETENTION_MS] + [f"{app_id}-{t}-changelog" for t in TABLES]

    factors = await replication_factors(kafka_bootstrap, topics)

    assert factors == {topic: {brokers} for topic in topics}


async def test_a_replication_factor_the_cluster_cannot_meet_stops_the_worker_with_the_reason(
    kafka_bootstrap: str, tmp_path: Path,
):
    """The one way to see a factor above the cluster's size reach the broker: the broker refuses it."""
    too_many = await broker_count(kafka_bootstrap) + 1
    worker, prefix = new_worker(kafka_bootstrap, tmp_path, {"LEADSTREAM_REPLICATION_FACTOR": str(too_many)})
    log = await refused_start(worker, "InvalidReplicationFactor")

    assert "InvalidReplicationFactor" in log, worker.log_tail()
    assert f"LEADSTREAM_REPLICATION_FACTOR is {too_many}" in log
    async with admin_client(kafka_bootstrap) as admin:
        assert not [topic for topic in await admin.list_topics() if topic.startswith(prefix)]
