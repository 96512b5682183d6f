"""Named doors into Faust's consumer bookkeeping, for the bulk intake (streams/worker/bulk_intake.py).

The bulk intake acks, marks in flight and counts whole batches where Faust does it one message
at a time, so it must write the consumer's private state as Faust's own methods do. Each
function below names the private attributes it touches; all of them are read by the Faust
release pinned in pyproject.toml (``Consumer.ack`` and ``getmany``, whose logic these copy, are
digest-checked at start with the bulk fetch override, streams/faust_ext/bulk_fetch.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor
from faust.transport.consumer import Consumer
from faust.types import TP, AppT
from faust.types.tuples import ack_lock
from mode.utils.futures import notify


class InFlight:
    """Stands in Faust's set of unacked messages for one partition's records in a batch being handled.

    Faust waits for that set to empty before it commits and hands partitions on at a rebalance
    or a stop; it reads ``tp``, ``refcount`` and ``acked`` from each member.
    """

    __slots__ = ("__weakref__", "acked", "refcount", "tp")

    def __init__(self, tp: TP) -> None:
        self.tp = tp
        self.refcount = 1
        self.acked = False

    def __repr__(self) -> str:
        return f"<bulk batch in flight on {self.tp.topic}[{self.tp.partition}]>"


def mark_in_flight(consumer: Consumer, tps: Iterable[TP]) -> list[InFlight]:
    """A marker per partition, added to ``consumer._unacked_messages``: commits and rebalances wait for it."""
    markers = [InFlight(tp) for tp in tps]
    consumer._unacked_messages.update(markers)  # type: ignore[attr-defined]
    return markers


def release_in_flight(consumer: Consumer, markers: Iterable[InFlight]) -> None:
    """The markers acked and removed from ``consumer._unacked_messages``; wakes whoever awaits ``_waiting_for_ack``."""
    markers = list(markers)
    for marker in markers:
        marker.acked = True
    consumer._unacked_messages.difference_update(markers)  # type: ignore[attr-defined]
    notify(consumer._waiting_for_ack)  # type: ignore[attr-defined]


def ack_offsets(consumer: Consumer, offsets: Iterable[tuple[TP, Iterable[int]]]) -> None:
    """Mark the offsets acked, as ``Consumer.ack`` does one message at a time.

    Writes ``consumer._acked_index``, ``_acked`` and ``_n_acked``, reads ``_committed_offset``,
    under Faust's ``ack_lock``. Offsets of a topic without acks, below the committed offset or
    acked already are left alone.
    """
    acked_total = 0
    with ack_lock:
        for tp, tp_offsets in offsets:
            if not consumer.app.topics.acks_enabled_for(tp.topic):
                continue
            committed = consumer._committed_offset[tp]  # type: ignore[attr-defined]
            acked_index = consumer._acked_index[tp]  # type: ignore[attr-defined]
            acked = consumer._acked[tp]  # type: ignore[attr-defined]
            for offset in tp_offsets:
                if (committed is None or offset >= committed) and offset not in acked_index:
                    acked_index.add(offset)
                    acked.append(offset)
                    acked_total += 1
        consumer._n_acked += acked_total  # type: ignore[attr-defined]


def take_commit_due(consumer: Consumer) -> bool:
    """Whether ``consumer._n_acked`` reached Faust's ``_commit_every``; if so the count starts again, as Faust's ack does."""
    commit_every = consumer._commit_every  # type: ignore[attr-defined]
    if commit_every is not None and consumer._n_acked >= commit_every:  # type: ignore[attr-defined]
        consumer._n_acked = 0  # type: ignore[attr-defined]
        return True
    return False


def count_received(app: AppT, tp: TP, count: int, last_offset: int) -> None:
    """Count ``count`` records of ``tp`` as received in Faust's own monitors, as its per-record path would.

    Reads ``PrometheusMonitor._metrics`` (Faust's Prometheus counters); the ``Monitor``
    attributes it writes are public.
    """
    for sensor in app.sensors:
        if isinstance(sensor, Monitor):
            sensor.messages_received_total += count
            sensor.messages_received_by_topic[tp.topic] += count
            sensor.tp_read_offsets[tp] = last_offset
        if isinstance(sensor, PrometheusMonitor):
            faust_metrics = sensor._metrics
            faust_metrics.messages_received.inc(count)
            faust_metrics.messages_received_per_topics.labels(topic=tp.topic).inc(count)
            faust_metrics.messages_received_per_topics_partition.labels(
                topic=tp.topic, partition=tp.partition).set(last_offset)
