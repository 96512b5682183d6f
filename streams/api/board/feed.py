"""The board's live feed: qualification changes from Kafka, fanned out to every open page.

Each worker may own only some partitions, so the feed reads ``leads.qualification`` with its
own consumer outside any group: every partition, from the latest offset when the worker
starts. Every worker's board therefore sees every change. Re-emitted changes (same
``change_id``) are shown and counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

log = logging.getLogger(__name__)

QUALIFICATION_CHANGE = "qualification_change"
LEAD_ERASED = "lead_erased"
SUBSCRIBER_QUEUE = 512  # messages a slow browser may fall behind before it is dropped (it reconnects)
SUBSCRIBER_BYTES = 1 << 20  # ... and bytes: a funnel is a few KB, so 512 of them would be megabytes per page
RETRY_AFTER_S = 2.0
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def server_sent_event(event: str, data: str | bytes) -> bytes:
    """One event in the text/event-stream format; multi-line data becomes several data: lines.

    A browser ends a line at CR, LF or CRLF: split on all three, or a CR inside the data (a lead id
    can hold one) would start a line of the sender's choosing, such as a second ``event:``.
    """
    if _LINE_BREAK.search(event):
        raise ValueError(f"an event name cannot hold a line break: {event!r}")
    text = data.decode() if isinstance(data, bytes) else data
    lines = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(text))
    return f"event: {event}\n{lines}\n".encode()


class Closed(Exception):
    """The hub closed this subscription (shutdown, or the browser fell too far behind)."""


class Full(Exception):
    """As many event streams are open as the worker allows (LEADSTREAM_BOARD_MAX_STREAMS)."""


class Subscription:
    def __init__(self, size: int, lead_id: str | None = None, max_bytes: int = SUBSCRIBER_BYTES) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(size)
        self.max_bytes = max_bytes
        self.queued_bytes = 0
        self.closed = False
        self.lead_id = lead_id  # a lead page follows one lead; the overview (None) follows the board

    def offer(self, message: bytes) -> bool:
        """False when the queue is full, in messages or bytes: the subscriber is too slow and must go."""
        if self.queued_bytes + len(message) > self.max_bytes:
            return False
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            return False
        self.queued_bytes += len(message)
        return True

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def next(self, timeout: float) -> bytes | None:
        """The next message, or None after ``timeout`` seconds of quiet; raises Closed once closed."""
        if self.closed and self._queue.empty():
            raise Closed
        try:
            message = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if message is None:
            raise Closed
        self.queued_bytes -= len(message)
        return message


class Hub:
    """Fans already-encoded server-sent events out to every open page, at most ``max_streams`` of them."""

    def __init__(self, queue_size: int = SUBSCRIBER_QUEUE, max_streams: int | None = None,
                 max_bytes: int = SUBSCRIBER_BYTES, on_drop: Callable[[], None] | None = None) -> None:
        self.queue_size = queue_size
        self.max_streams = max_streams
        self.max_bytes = max_bytes
        self.on_drop = on_drop
        self._subscriptions: set[Subscription] = set()
        self.joined = asyncio.Event()  # set whenever someone is listening

    @property
    def listeners(self) -> int:
        return len(self._subscriptions)

    @property
    def overview_listeners(self) -> int:
        return sum(subscription.lead_id is None for subscription in self._subscriptions)

    def join(self, lead_id: str | None = None) -> Subscription:
        """A new subscription, or Full: taken at once, so the caller can still answer 503 instead of a stream."""
        if self.max_streams is not None and len(self._subscriptions) >= self.max_streams:
            raise Full
        subscription = Subscription(self.queue_size, lead_id, self.max_bytes)
        self._subscriptions.add(subscription)
        if lead_id is None:
            self.joined.set()
        return subscription

    def leave(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        if not self.overview_listeners:
            self.joined.clear()

    @contextlib.asynccontextmanager
    async def subscribe(self, lead_id: str | None = None) -> AsyncIterator[Subscription]:
        subscription = self.join(lead_id)
        try:
            yield subscription
        finally:
            self.leave(subscription)

    def publish(self, message: bytes, lead_id: str | None = None) -> None:
        """To the overview pages, or (with ``lead_id``) to the pages following that lead."""
        for subscription in list(self._subscriptions):
            if subscription.lead_id != lead_id:
                continue
            if not subscription.offer(message):
                log.info("dropping a board subscriber that fell %d messages or %d bytes behind",
                         self.queue_size, self.max_bytes)
                subscription.close()
                self._subscriptions.discard(subscription)
                if self.on_drop is not None:
                    self.on_drop()

    def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.close()
        self._subscriptions.clear()
        self.joined.clear()


class SeenChanges:
    """The latest change ids, to show and count a re-emitted change once."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, change_id: str) -> bool:
        if change_id in self._ids:
            self._ids.move_to_end(change_id)
            return False
        self._ids[change_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


@dataclass(frozen=True)
class Transition:
    seen_at: float
    from_stage: str
    to_stage: str
    from_temperature: str
    to_temperature: str


class TransitionCounter:
    """Qualification changes the feed saw, by the minute they arrived (wall clock), for a window."""

    def __init__(self, minutes: int = 15, clock: Callable[[], float] = time.time) -> None:
        self.minutes = minutes
        self.clock = clock
        self._seen: deque[Transition] = deque()

    def add(self, change: dict[str, Any]) -> None:
        self._seen.append(Transition(self.clock(), change["from_stage"], change["to_stage"],
                                     change["from_temperature"], change["to_temperature"]))
        self._trim(self.clock())

    def _trim(self, now: float) -> None:
        horizon = (now // 60 - self.minutes + 1) * 60
        while self._seen and self._seen[0].seen_at < horizon:
            self._seen.popleft()

    def per_minute(self) -> list[tuple[float, int]]:
        """(minute start, stage transitions) for each of the last ``minutes`` minutes, oldest first."""
        now = self.clock()
        self._trim(now)
        current = now // 60
        counts = Counter(int(t.seen_at // 60) for t in self._seen if t.from_stage != t.to_stage)
        return [((current - back) * 60, counts.get(int(current - back), 0)) for back in range(self.minutes - 1, -1, -1)]

    def last_minute(self) -> tuple[int, int]:
        """Stage transitions and temperature changes in the last sixty seconds."""
        since = self.clock() - 60
        recent = [t for t in self._seen if t.seen_at >= since]
        return (sum(t.from_stage != t.to_stage for t in recent),
                sum(t.from_temperature != t.to_temperature for t in recent))

    def by_move(self) -> list[tuple[str, int]]:
        """Stage transitions over the window, most frequent first."""
        self._trim(self.clock())
        counts = Counter(f"{t.from_stage}→{t.to_stage}" for t in self._seen if t.from_stage != t.to_stage)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def decode_record(raw: bytes | None) -> dict[str, Any] | None:
    """A change or an erasure notice as a dict, or None for anything the board cannot show."""
    if not raw:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("lead_id"), str):
        return None
    kind = data.get("kind", QUALIFICATION_CHANGE)
    if kind == LEAD_ERASED:
        return data
    needed = ("change_id", "from_stage", "to_stage", "from_temperature", "to_temperature", "score")
    if kind != QUALIFICATION_CHANGE or any(name not in data for name in needed):
        return None
    return data


class QualificationFeed:
    """Reads every partition of the qualification topic from the latest offset, for as long as it runs."""

    def __init__(self, topic: str, bootstrap: str, client_kwargs: dict[str, Any],
                 on_record: Callable[[dict[str, Any]], None]) -> None:
        self.topic = topic
        self.bootstrap = bootstrap
        self.client_kwargs = client_kwargs
        self.on_record = on_record
        self.ready = asyncio.Event()  # positions resolved: nothing produced from now on is missed

    async def run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 — the board must never take the worker down
                log.warning("board feed of %s failed; retrying in %.0f s", self.topic, RETRY_AFTER_S, exc_info=True)
                await asyncio.sleep(RETRY_AFTER_S)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="latest", client_id="leadstream-board-feed", metadata_max_age_ms=30_000,
            **self.client_kwargs,
        )
        await consumer.start()
        try:
            await self._resolve_positions(consumer)
            self.ready.set()
            async for record in consumer:
                decoded = decode_record(record.value)
                if decoded is not None:
                    self.on_record(decoded)
        finally:
            await consumer.stop()

    @staticmethod
    async def _resolve_positions(consumer: AIOKafkaConsumer) -> None:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        for partition in consumer.assignment():
            await consumer.position(partition)
