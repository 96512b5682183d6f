"""Creating the app's topics explicitly, with the partition counts co-partitioning needs."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.config import Settings
from streams.errors import TopicMismatch
from streams.topics import ALL_TOPICS, CONTROL, DEAD_LETTERS, FEEDBACK

log = logging.getLogger(__name__)

# Dead letters are evidence to inspect and re-drive: keep them longer than the rest; sales
# feedback is calibration data, kept for good ("-1": no time limit), and so is the applied model.
RETENTION_MS = {DEAD_LETTERS: 30 * 86_400_000, FEEDBACK: -1, CONTROL: -1}
DEFAULT_RETENTION_MS = 14 * 86_400_000
# Every worker reads the whole control topic; compaction keeps the latest applied model forever.
PARTITIONS = {CONTROL: 1}
EXTRA_CONFIGS = {CONTROL: {"cleanup.policy": "compact"}}


def retention_ms(name: str, config: Settings) -> int:
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

