"""Creating the app's topics explicitly, with the partition counts co-partitioning needs."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.config import Settings
from streams.errors import TopicMismatch
from streams.topics import ALL_TOPICS, CONTROL, DEAD_LETTERS, FEEDBACK, RAW_EVENTS

log = logging.getLogger(__name__)

# Dead letters are evidence to inspect and re-drive: keep them longer than the rest; sales
# feedback is calibration data, kept for good ("-1": no time limit). The raw events are the
# history replay and calibration read: LEADSTREAM_RAW_RETENTION_DAYS (default 30, so an erased
# lead's raw events are gone within the month erasure allows; `leadstream export` keeps longer
# history without them).
RETENTION_MS = {DEAD_LETTERS: 30 * 86_400_000, FEEDBACK: -1, CONTROL: -1}
DEFAULT_RETENTION_MS = 14 * 86_400_000
# Every worker reads the whole control topic; compaction keeps the latest applied model forever.
PARTITIONS = {CONTROL: 1}
EXTRA_CONFIGS = {CONTROL: {"cleanup.policy": "compact"}}


def retention_ms(name: str, config: Settings) -> int:
    if name == RAW_EVENTS:
        days = config.raw_retention_days
        return -1 if days < 0 else int(days * 86_400_000)
    return RETENTION_MS.get(name, DEFAULT_RETENTION_MS)


async def ensure_topics(config: Settings) -> None:
    """Create missing topics; fail with a clear error if an existing one has the wrong shape."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap_servers, client_id=f"{config.app_id}-admin",
        **config.security.client_kwargs(),
    )
    await admin.start()
    try:
        wanted = {config.topic_prefix + name: name for name in ALL_TOPICS}
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=full_name,
                num_partitions=PARTITIONS.get(name, config.partitions),
                replication_factor=config.replication_factor,
                topic_configs={"retention.ms": str(retention_ms(name, config)), **EXTRA_CONFIGS.get(name, {})},
            )
            for full_name, name in wanted.items()
            if full_name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
            log.info("created topics %s", ", ".join(t.name for t in missing))
        await _check_partitions(admin, [name for name, short in wanted.items() if name in existing
                                         and short not in PARTITIONS], config.partitions)
    finally:
        await admin.close()


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


async def ensure_topic(config: Settings, full_name: str) -> None:
    """Create one more topic of the app's shape (partitions, replication), if it is missing."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap_servers, client_id=f"{config.app_id}-admin",
        **config.security.client_kwargs(),
    )
    await admin.start()
    try:
        if full_name not in set(await admin.list_topics()):
            await admin.create_topics([NewTopic(name=full_name, num_partitions=config.partitions,
                                                replication_factor=config.replication_factor,
                                                topic_configs={"retention.ms": str(DEFAULT_RETENTION_MS)})])
    finally:
        await admin.close()
