"""At each seek to committed offsets, a stream partition never committed goes back to its start.

The Kafka client moves no partition without a committed offset, so records fetched and then
dropped at a rebalance (their batch was of the previous generation) would be skipped for good
on a partition the worker kept, once newer records arrived after them.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

pytestmark = pytest.mark.usefixtures("faust_overrides")  # the fix under test, installed as a worker installs it

NEVER, AT_ZERO, COMMITTED = TP("leads.events.raw", 0), TP("leads.events.raw", 1), TP("leads.events.raw", 2)
CHANGELOG = TP("leadstream-leads-changelog", 0)


class KafkaClient:
    """The Kafka client's positions, and its seek to committed offsets as it does it."""

    def __init__(self, committed: dict[TP, int | None], positions: dict[TP, int]) -> None:
        self.committed = committed
        self.positions = positions

    async def seek_to_committed(self) -> dict[TP, int | None]:
        for tp, offset in self.committed.items():  # only a committed offset above 0 moves
            if offset and offset > 0:
                self.positions[tp] = offset
        return dict(self.committed)

    def seek(self, tp: TP, offset: int) -> None:
        self.positions[tp] = offset


class WorkerConsumer:
    """Faust's consumer as the seek uses it: its bookkeeping, and its thread around the client."""

    def __init__(self, client: KafkaClient) -> None:
        app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}))
        self._read_offset: dict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset: dict[TP, int | None] = defaultdict(lambda: None)
        self._thread = SimpleNamespace(app=app, _ensure_consumer=lambda: client, call_thread=self._call)
        self._thread.seek = lambda tp, offset: AIOKafkaConsumerThread.seek(self._thread, tp, offset)

    @staticmethod
    async def _call(method: Any) -> Any:
        return await method()

    async def seek_to_committed(self) -> Any:
        return await AIOKafkaConsumerThread.seek_to_committed(self._thread)  # type: ignore[arg-type]


async def test_a_partition_never_committed_is_read_again_from_its_start_and_the_others_from_their_commit():
    client = KafkaClient(
        committed={NEVER: None, AT_ZERO: 0, COMMITTED: 40, CHANGELOG: None},
        # Where the client had fetched to when the rebalance dropped the records in between.
        positions={NEVER: 17, AT_ZERO: 9, COMMITTED: 52, CHANGELOG: 300},
    )
    consumer = WorkerConsumer(client)
    consumer._read_offset.update({NEVER: 11, AT_ZERO: 5, COMMITTED: 47})

    await Consumer.perform_seek(consumer)  # type: ignore[arg-type]  # Faust's own, unchanged

    assert client.positions == {NEVER: 0, AT_ZERO: 0, COMMITTED: 40, CHANGELOG: 300}
    # Nothing past the new position counts as read, so the records come again.
    assert consumer._read_offset[NEVER] is None and consumer._read_offset[AT_ZERO] == 0
    assert consumer._read_offset[COMMITTED] == 40
    assert consumer._committed_offset[COMMITTED] == 40 and consumer._committed_offset[AT_ZERO] is None
