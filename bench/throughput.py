"""The five throughput measurements, each on its own fresh topics and consumer group.

Every stage measures the same thing: events per second from the first record consumed to the
last one accounted for, with the whole workload already in the topic. For the Faust
processes (the two comparison apps and ``leadstream worker``) the order is: start the
process(es) on empty topics, wait until the group is stable and every worker ready, freeze
them (SIGSTOP), preload the workload, thaw them (SIGCONT). So no stage pays for process start,
group joins or a rebalance, and no stage competes with the producer for the two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer

from bench.kafka_io import create_topics, preload
from bench.workload import Workload
from streams.config.environment import Settings, settings_from
from streams.contracts.topic_admin import ensure_topics
from streams.contracts.topics import RAW_EVENTS
from streams.devtools.processes import WorkerProcess

POLL_S = 0.05  # how often the benchmark asks a worker how far it got
STALL_TIMEOUT_S = 60.0  # no progress for this long: the stage failed


class StageFailed(RuntimeError):
    """A measured stage did not get through its workload."""


@dataclass(frozen=True)
class Broker:
    kind: str  # "apache-kafka", "tansu" or "external"
    bootstrap: str
    client_kwargs: dict[str, Any]
    worker_env: dict[str, str]  # consumer-group timing suited to this broker
    changelog_records_per_batch: int | None = None  # Tansu: 1, or recovery stops short
    pid: int | None = None  # the broker process started here; None for a broker given by address


@dataclass
class StageResult:
    name: str
    events: int
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)
    # The machine's 1-minute load average when the stage ended: other processes on the same cores
    # (a test suite in another checkout, say) lower every figure, and this shows it.
    load_after: float = field(default_factory=lambda: os.getloadavg()[0])

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Bench:
    """What every stage needs: the broker, a scratch directory, the partition count."""

    broker: Broker
    workdir: Path
    partitions: int
    log: Callable[[str], None] = print

    def fresh_prefix(self, stage: str) -> str:
        return f"bench-{stage}-{uuid.uuid4().hex[:6]}."

    def worker_env(self, prefix: str, index: int = 0) -> dict[str, str]:
        return {
            **self.broker.worker_env,
            "LEADSTREAM_APP_ID": prefix[:-1],
            "LEADSTREAM_TOPIC_PREFIX": prefix,
            "LEADSTREAM_PARTITIONS": str(self.partitions),
            "LEADSTREAM_DATA_DIR": str(self.workdir / f"{prefix}data-{index}"),
        }

    def settings(self, prefix: str) -> Settings:
        """The settings a worker on ``prefix`` runs with (for creating its topics up front)."""
        return settings_from({**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
                              **self.worker_env(prefix)})

    def process(self, prefix: str, index: int = 0, command: Sequence[str] | None = None) -> WorkerProcess:
        kwargs = {"command": tuple(command)} if command else {}
        return WorkerProcess(self.broker.bootstrap, self.workdir / f"{prefix}worker-{index}.log",
                             env=self.worker_env(prefix, index), **kwargs)

    async def preload(self, topic: str, workload: Workload) -> float:
        started = time.monotonic()
        await preload(self.broker.bootstrap, topic, workload.pairs(), self.partitions, self.broker.client_kwargs)
        return time.monotonic() - started


# --- 1. the transport limit --------------------------------------------------------------

async def raw_consumer(bench: Bench, workload: Workload) -> StageResult:
    """A plain aiokafka consumer that decodes every value with orjson and does nothing else."""
    prefix = bench.fresh_prefix("raw")
    topic = prefix + RAW_EVENTS
    await create_topics(bench.broker.bootstrap, [topic], bench.partitions, bench.broker.client_kwargs)
    await bench.preload(topic, workload)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bench.broker.bootstrap, group_id=prefix + "raw", auto_offset_reset="earliest",
        enable_auto_commit=True, **bench.broker.client_kwargs,
    )
    await consumer.start()
    count, decoded_bytes, first_at = 0, 0, None
    loads = orjson.loads
    try:
        deadline = time.monotonic() + STALL_TIMEOUT_S
        while count < len(workload):
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            if not batches:
                if time.monotonic() > deadline:
                    raise StageFailed(f"raw consumer stalled at {count} of {len(workload)}")
                continue
            if first_at is None:
                first_at = time.monotonic()
            for records in batches.values():
                for record in records:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        loads(record.value)
                    decoded_bytes += len(record.value)
                count += len(records)
            deadline = time.monotonic() + STALL_TIMEOUT_S
        last_at = time.monotonic()
    finally:
        await consumer.stop()
    assert first_at is not None
    return StageResult("raw aiokafka consumer", count, last_at - first_at, {"bytes": decoded_bytes})


# --- 2 and 3. the comparison Faust apps ----------------------------------------------------

async def comparison_app(bench: Bench, name: str, module: str, workload: Workload, expected: int) -> StageResult:
    """One ``python -m <module> worker`` process; it stamps its own first and last event."""
    prefix = bench.fresh_prefix(module.rsplit(".", 1)[-1].replace("_app", ""))
    topic = prefix + RAW_EVENTS
    await create_topics(bench.broker.bootstrap, [topic], bench.partitions, bench.broker.client_kwargs)
    worker = bench.process(prefix, command=(sys.executable, "-m", module))
    try:
        await _start_ready([worker])
        async with _frozen([worker]):
            preload_s = await bench.preload(topic, workload)
        progress = await _wait_for(lambda: _progress(worker), lambda p: p["received"] >= expected,
                                   f"{name} on {prefix}")
    finally:
        worker.stop()
    return StageResult(name, progress["received"], progress["last_at"] - progress["first_at"],
                       {"preload_s": round(preload_s, 2), "log": str(worker.log_path)})


async def _progress(worker: WorkerProcess) -> dict[str, Any]:
    return (await worker.get_json("/progress"))[1]


# --- 4. the production topology ------------------------------------------------------------

@dataclass
class Production:
    """``leadstream worker`` processes on one fresh set of topics, as the stage left them."""

    prefix: str
    workers: list[WorkerProcess]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


async def production(bench: Bench, workload: Workload, workers: int = 1, keep: bool = False,
                     before_start: Callable[[Settings], Awaitable[None]] | None = None,
                     store: str | None = None) -> tuple[StageResult, Production]:
    """``leadstream worker`` exactly as deployed (every hop, table and topic), one or more processes.

    ``before_start``: run on the stage's topics once they exist, before any worker starts (a shadow model put on).
    ``store``: the workers' LEADSTREAM_STORE; None leaves the worker's default.

    Done when the summed /accounting of the workers has received every event and balances
    (received = scored + ignored + deduplicated + dead-lettered + held).
    """
    prefix = bench.fresh_prefix(f"ls{workers}w{store or ''}")
    processes = [bench.process(prefix, index) for index in range(workers)]
    for process in processes:
        if store is not None:
            process.extra_env["LEADSTREAM_STORE"] = store
    running = Production(prefix, processes)
    try:
        # The worker creates missing topics itself; creating them first makes the preload's
        # partition count the app's, whoever gets there first.
        await ensure_topics(bench.settings(prefix))
        if before_start is not None:
            await before_start(bench.settings(prefix))
        await _start_ready(processes)
        rss_ready = [rss_bytes(worker) for worker in processes]
        async with _frozen(processes) as thawed:
            preload_s = await bench.preload(prefix + RAW_EVENTS, workload)
        # Whose CPU the stage took: the workers', and the broker's on the same cores.
        pids = [bench.broker.pid, *(worker.pid for worker in processes)]
        cpu_at_thaw = [cpu_seconds(pid) for pid in pids]
        first_at, last_at, accounting = await _until_accounted(processes, len(workload), thawed[0])
        cpu_drained = [cpu_seconds(pid) for pid in pids]
        broker_share, *worker_shares = cpu_shares(cpu_at_thaw, cpu_drained, time.monotonic() - thawed[0])
        rss_drained = [rss_bytes(worker) for worker in processes]
    except BaseException:
        running.stop()
        raise
    if not keep:
        running.stop()
    if accounting["received"] != len(workload):
        raise StageFailed(f"sent {len(workload)} events, the workers received {accounting['received']}")
    detail = {"preload_s": round(preload_s, 2), "accounting": accounting,
              "cpu_share": {"broker": broker_share, "workers": worker_shares}, "rss_ready": rss_ready,
              "rss_drained": rss_drained, "logs": [str(worker.log_path) for worker in processes]}
    name = "leadstream worker" + (f" ×{workers}" if workers > 1 else "") + (f" on {store}" if store else "")
    return StageResult(name, accounting["received"], last_at - first_at, detail), running


def cpu_seconds(pid: int | None) -> float | None:
    """User and system CPU time a process has used so far, all its threads (/proc/<pid>/stat), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name may hold spaces: the fields counted from its closing parenthesis.
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def cpu_shares(before: Sequence[float | None], after: Sequence[float | None], seconds: float) -> list[float | None]:
    """Each process's CPU time over the window as a share of one core (2.0 would be two cores busy)."""
    return [round((end - start) / seconds, 2) if start is not None and end is not None and seconds > 0 else None
            for start, end in zip(before, after)]


def rss_bytes(worker: WorkerProcess) -> int:
    """Resident set size of a worker process (VmRSS in /proc/<pid>/status)."""
    with open(f"/proc/{worker.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise StageFailed(f"no VmRSS for pid {worker.pid}")


async def summed_accounting(workers: Sequence[WorkerProcess]) -> dict[str, Any]:
    parts = await asyncio.gather(*(worker.get_json("/accounting") for worker in workers))
    total: dict[str, Any] = {}
    for _, part in parts:
        for bucket in ("received", "scored", "ignored", "deduplicated", "dead_lettered", "held"):
            total[bucket] = total.get(bucket, 0) + part[bucket]
        for by_reason in ("ignored_by_reason", "dead_lettered_by_reason"):
            merged = total.setdefault(by_reason, {})
            for reason, count in part[by_reason].items():
                merged[reason] = merged.get(reason, 0) + count
    accounted = sum(total[b] for b in ("scored", "ignored", "deduplicated", "dead_lettered", "held"))
    total["balanced"] = total["received"] == accounted
    return total


async def _until_accounted(workers: Sequence[WorkerProcess], expected: int, thawed_at: float,
                           ) -> tuple[float, float, dict[str, Any]]:
    """(first consumed, last accounted, accounting).

    The first record is consumed right after SIGCONT (the backlog is already there), so the
    clock starts at the thaw: conservative by one fetch round trip. GET /accounting costs the
    worker real time (it collects the whole Prometheus registry), so it is asked rarely while
    most of the work remains and often near the end; the end is the midpoint of the two polls
    around it.
    """
    previous_poll = thawed_at
    received_before = -1
    stalled_since = time.monotonic()
    while True:
        accounting = await summed_accounting(workers)
        now = time.monotonic()
        received = accounting["received"]
        if received >= expected and accounting["balanced"]:
            return thawed_at, (previous_poll + now) / 2, accounting
        if received != received_before:
            received_before, stalled_since = received, now
        elif now - stalled_since > STALL_TIMEOUT_S:
            raise StageFailed(f"workers stalled: {accounting} of {expected}\n{workers[0].log_tail()}")
        for worker in workers:
            if worker.process is None or worker.process.poll() is not None:
                raise StageFailed(f"a worker exited:\n{worker.log_tail()}")
        previous_poll = now
        await asyncio.sleep(_next_poll(received, expected, now - thawed_at))


def _next_poll(done: int, expected: int, elapsed: float) -> float:
    """Half the estimated time left, between POLL_S and a second."""
    if done <= 0:
        return 0.5
    remaining = (expected - done) * elapsed / done
    return min(max(remaining / 2, POLL_S), 1.0)


# --- shared ------------------------------------------------------------------------------

async def _start_ready(processes: Sequence[WorkerProcess], settle_s: float = 1.0, timeout_s: float = 90.0) -> None:
    """Start every process, then wait until all are ready at once and stay so (the group has settled)."""
    for process in processes:
        process.start()
    while True:
        for process in processes:
            await process.wait_ready(timeout=timeout_s)
        await asyncio.sleep(settle_s)
        statuses = await asyncio.gather(*(_ready(process) for process in processes))
        if all(statuses):
            return


async def _ready(process: WorkerProcess) -> bool:
    try:
        status, _ = await process.get_json("/healthz", timeout=2.0)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False
    return status == 200


@contextlib.asynccontextmanager
async def _frozen(processes: Sequence[WorkerProcess]) -> AsyncIterator[list[float]]:
    """SIGSTOP the processes for the block, SIGCONT them after; yields a list that then holds when.

    The block must be shorter than the group's session timeout, or the broker evicts them.
    """
    thawed: list[float] = []
    for process in processes:
        os.kill(process.pid, signal.SIGSTOP)
    try:
        yield thawed
    finally:
        for process in processes:
            os.kill(process.pid, signal.SIGCONT)
        thawed.append(time.monotonic())


async def _wait_for(read: Callable[[], Awaitable[dict[str, Any]]], done: Callable[[dict[str, Any]], bool],
                    what: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    stalled_since = time.monotonic()
    while True:
        current = await read()
        if done(current):
            return current
        if current != last:
            last, stalled_since = current, time.monotonic()
        elif time.monotonic() - stalled_since > STALL_TIMEOUT_S:
            raise StageFailed(f"{what} stalled at {current}")
        await asyncio.sleep(POLL_S * 4)
