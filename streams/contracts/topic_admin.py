"""Creating the app's topics explicitly, with the partition counts co-partitioning needs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from streams.config.environment import Settings
from streams.contracts.compaction_bound import bound_compaction
from streams.errors import TopicCreationFailed, TopicMismatch
from streams.contracts.topics import ALL_TABLES, ALL_TOPICS, CONTROL, DEAD_LETTERS, FEEDBACK, RAW_EVENTS

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
# Dead letters are evidence to inspect and re-drive: keep them longer than the rest; sales
# feedback is calibration data, kept a year (docs/privacy.md). The raw events are the
# history replay and calibration read: LEADSTREAM_RAW_RETENTION_DAYS (default 30, so an erased
# lead's raw events are gone within the month erasure allows; `leadstream export` keeps longer
# history without them).
FEEDBACK_RETENTION_MS = 365 * DAY_MS
RETENTION_MS = {DEAD_LETTERS: 30 * DAY_MS, FEEDBACK: FEEDBACK_RETENTION_MS, CONTROL: -1}
DEFAULT_RETENTION_MS = 14 * DAY_MS
# Erasure's tombstones must take effect within a stated bound (docs/privacy.md): on every compacted
# topic a record is compacted at most a day after it was superseded (max.compaction.lag.ms, with
# segments rolled daily so the newest is not left out), and a tombstone itself goes a day later.
COMPACTION_BOUND_MS = DAY_MS
COMPACTION_CONFIGS = {"max.compaction.lag.ms": str(COMPACTION_BOUND_MS), "segment.ms": str(COMPACTION_BOUND_MS),
                      "delete.retention.ms": str(DAY_MS)}
# Every worker reads the whole control topic; compaction keeps the latest applied model forever.
# Feedback is keyed per verdict (lead id and feedback id) so that erasure can tombstone each.
PARTITIONS = {CONTROL: 1}
EXTRA_CONFIGS = {CONTROL: {"cleanup.policy": "compact", **COMPACTION_CONFIGS},
                 FEEDBACK: {"cleanup.policy": "compact,delete", **COMPACTION_CONFIGS}}
VISIBLE_WITHIN_S = 15.0


def retention_ms(name: str, config: Settings) -> int:
    if name == RAW_EVENTS:
        days = config.raw_retention_days
        return -1 if days < 0 else int(days * 86_400_000)
    return RETENTION_MS.get(name, DEFAULT_RETENTION_MS)


def changelog_name(app_id: str, table: str) -> str:
    """Faust's name for a table's changelog topic."""
    return f"{app_id}-{table}-changelog"


def wanted_topics(config: Settings, extra: Iterable[str] = ()) -> list[NewTopic]:
    """The app's topics, its tables' changelogs, and ``extra`` (full names) of the app's shape."""
    topics = [
        NewTopic(name=config.topic_prefix + name, num_partitions=PARTITIONS.get(name, config.partitions),
                 replication_factor=config.replication_factor,
                 topic_configs={"retention.ms": str(retention_ms(name, config)), **EXTRA_CONFIGS.get(name, {})})
        for name in ALL_TOPICS
    ]
    # Table changelogs too (compacted, as Faust makes them): one Faust creates as it joins the
    # group can be missing from the metadata the assignment is computed from, and the table
    # then refuses every write ("changelog has 0 partitions") until that metadata is refreshed.
    topics += [NewTopic(name=changelog_name(config.app_id, table), num_partitions=config.partitions,
                        replication_factor=config.replication_factor,
                        topic_configs={"cleanup.policy": "compact", **COMPACTION_CONFIGS})
               for table in sorted(ALL_TABLES)]
    topics += [NewTopic(name=name, num_partitions=config.partitions, replication_factor=config.replication_factor,
                        topic_configs={"retention.ms": str(DEFAULT_RETENTION_MS)})
               for name in extra if name not in {t.name for t in topics}]
    return topics


async def ensure_topics(config: Settings, extra: Sequence[str] = ()) -> None:
    """Create missing topics; fail with a clear error if an existing one has the wrong shape."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap_servers, client_id=f"{config.app_id}-admin",
        **config.security.client_kwargs(),
    )
    await admin.start()
    try:
        wanted = wanted_topics(config, extra)
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        if missing:
            # Made meanwhile by another process (an older version's, perhaps): bounded below like the rest.
            existing |= _raise_refusals(await admin.create_topics(missing), config)
            log.info("created topics %s", ", ".join(t.name for t in missing))
            await _until_visible(admin, missing)
        # Topics an older version created keep their config: erasure needs the compaction bound on them too.
        await bound_compaction(admin, {t.name: t.topic_configs for t in wanted if t.name in existing
                                       and "compact" in t.topic_configs.get("cleanup.policy", "")})
        # Only the co-partitioned ones: the control topic has its own single partition.
        await _check_partitions(admin, [t.name for t in wanted if t.name in existing
                                        and t.num_partitions == config.partitions], config.partitions)
    finally:
        await admin.close()


def _raise_refusals(response: Any, config: Settings) -> set[str]:
    """The broker answers a refused topic with an error code, not an exception: say which and why.

    Another process creating the same topic first is no refusal: those topics are returned.
    """
    refusals: list[str] = []
    already: set[str] = set()
    for topic, error_code, *details in response.topic_errors:
        if error_code and for_code(error_code) is TopicAlreadyExistsError:
            already.add(topic)
        elif error_code:
            message = details[0] if details and details[0] else ""
            refusals.append(f"{topic}: {for_code(error_code).__name__} {message}".rstrip())
    if refusals:
        raise TopicCreationFailed(
            f"the broker refused to create topics (LEADSTREAM_REPLICATION_FACTOR is {config.replication_factor}):"
            f" {'; '.join(refusals)}"
        )
    return already


async def _until_visible(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> None:
    """Until the broker describes every new topic with all its partitions (its metadata lags creation)."""
    names = [t.name for t in topics]
    partitions = {t.name: t.num_partitions for t in topics}
    deadline = time.monotonic() + VISIBLE_WITHIN_S
    while time.monotonic() < deadline:
        try:
            described = await admin.describe_topics(names)
        except Exception:  # noqa: BLE001 — an unknown topic may raise while the metadata catches up
            described = []
        if len(described) == len(names) and all(
            not d.get("error_code") and len(d.get("partitions", [])) == partitions.get(d.get("topic"))
            for d in described
        ):
            return
        await asyncio.sleep(0.1)
    log.warning("topics %s not yet in the broker's metadata after %.0f s", ", ".join(names), VISIBLE_WITHIN_S)


async def _check_partitions(admin: AIOKafkaAdminClient, names: list[str], partitions: int) -> None:
    if not names:
        return
    for description in await admin.describe_topics(names):
        count = len(description["partitions"])
        if count != partitions:
            raise TopicMismatch(
                f"topic {description['topic']} has {count} partitions but LEADSTREAM_PARTITIONS is"
                f" {partitions}: co-partitioned topics and tables need the same count"
            )
