"""Failover at scale: one of two workers holding N leads is SIGKILLed mid-stream; how soon the survivor takes over.

``python -m bench.failover --leads 20000`` (Apache Kafka as ``leadstream bench`` starts it). N real
lead records (scored by the in-process pipeline and cloned, as ``bench.restart`` does, with event
times ending about now) are written to a fresh app's changelog. Two ``leadstream worker``
processes share the app, each with its own data dir, on RocksDB with one standby replica: each
actively owns half the partitions and keeps a warm copy of the other half. The run starts once
both are healthy, count the N leads between them and have each applied the changelog, its actives'
and its standbys' (``leadstream_state_restored_records_total`` on each within one standby batch of N:
Faust applies a standby's records 1,000 at a time).

A steady stream of the benchmark's realistic events (``bench.workload``: fresh leads, over every
partition) then runs; after a warm-up one worker is SIGKILLed and the stream goes on. Right after
the kill one more event is sent per partition the dead worker owned, each for one of its
preloaded leads (a probe). Measured from the kill:

- detection: until the survivor's log shows the rebalance (and until its /metrics shows it rejoined:
  ``faust_rebalance_done_consumer_latency_count`` rises; later while its loop is busy). The broker
  notices only when the dead member's session expires, so this is bounded by
  LEADSTREAM_SESSION_TIMEOUT_S (default 30 s);
- takeover: until the survivor's lead API shows each probe scored (the lead's ``as_of`` is the
  probe's time): the first and the last of the dead worker's partitions;
- caught up: until the group's committed lag on those partitions is back to its level before the kill.

Then the stream stops, the survivor drains everything, and nothing lost is checked against an
uninterrupted run (the in-process pipeline over the same stream): every event that run scores is
among its lead's remembered event ids in the leads changelog and no other is; the survivor holds N
leads plus the stream's; every probe is in its lead's state. ``--session-timeouts 30,6`` runs once
per timeout (heartbeat a third of it, at most 3 s), each on a fresh app.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import TopicPartition
from yarl import URL

from bench.cli import BenchOptions, _broker
from bench.kafka_io import GroupLag, producer, warm_up_groups
from bench.latency import _epoch, _produce_steadily
from bench.memory import PER_LEAD_TABLES, cloned, compacted, preloaded_app
from bench.restart import metric_total, restored_leads, source_leads
from bench.throughput import Bench, StageFailed, summed_accounting
from bench.topology import final_leads
from bench.workload import CONTEXT, generate
from scoring.dedupe import event_hash
from streams.contracts import lead_records
from streams.contracts.encoding import iso_time
from streams.contracts.partitioning import partition_for
from streams.contracts.topics import RAW_EVENTS, SIGNALS
from streams.devtools.processes import WorkerProcess

# Faust's count of rebalances this worker answered (its gauge of rebalances in progress is up for a blink).
REJOINED = "faust_rebalance_done_consumer_latency_count"
SERVED_BY_HEADER = "X-Leadstream-Served-By"  # streams/api/leads.py: which worker answered for a lead
POLL_S = 0.2
READY_TIMEOUT_S = 300.0  # and 1 ms per lead: a first start reads every lead's changelog record (about 2,500/s)
# Faust applies a standby's changelog records in batches of the table's recovery_buffer_size (its default,
# 1,000): up to 999 read records wait in memory for more, unapplied and uncounted by the restored metric.
STANDBY_BATCH = 1_000
DRAIN_TIMEOUT_S = 180.0
DEDUPE_WINDOW = 64  # the shipped model's [dedupe] window: the event ids a lead's state remembers


@dataclass
class Loss:
    """An uninterrupted run's scored events per lead against those the faulted run's states remember."""

    leads: int = 0
    events: int = 0  # the reference's scored events, summed over its leads
    missing: int = 0  # scored by the reference, not remembered by the run
    unexpected: int = 0  # remembered by the run, not scored by the reference
    leads_missing: int = 0  # no record at all in the run
    examples: list[str] = field(default_factory=list)


def compare(reference: dict[bytes, bytes], run: dict[bytes, bytes]) -> Loss:
    """Per reference lead, its remembered event ids (scoring.dedupe) in both runs' records, as sets.

    Sound only while no lead has more events than the window remembers (checked by the caller).
    """
    loss = Loss(leads=len(reference))
    for key, record in reference.items():
        expected = set(lead_records.decode_state(key.decode(), record).recent_event_ids)
        loss.events += len(expected)
        held = run.get(key)
        if held is None:
            loss.leads_missing += 1
            loss.missing += len(expected)
            loss.examples.append(f"{key.decode()}: no record")
            continue
        remembered = set(lead_records.decode_state(key.decode(), held).recent_event_ids)
        missing, unexpected = len(expected - remembered), len(remembered - expected)
        loss.missing += missing
        loss.unexpected += unexpected
        if (missing or unexpected) and len(loss.examples) < 5:
            loss.examples.append(f"{key.decode()}: {missing} missing, {unexpected} unexpected")
    return loss


def probe_event(lead_id: str, message_id: str, at: float) -> bytes:
    """A pricing-page view by a preloaded lead, at ``at``: scored, it moves the lead's ``as_of`` to ``at``."""
    return orjson.dumps({"type": "page", "messageId": message_id, "userId": lead_id, "anonymousId": f"{lead_id}-anon",
                         "timestamp": iso_time(at), "context": CONTEXT, "properties": {"path": "/pricing"}})


def probe_leads(pairs: list[tuple[bytes, bytes]], partitions: int) -> dict[int, str]:
    """One identified preloaded lead per partition."""
    chosen: dict[int, str] = {}
    for key, _ in pairs:
        if key.startswith(b"lead-"):
            chosen.setdefault(partition_for(key, partitions), key.decode())
        if len(chosen) == partitions:
            break
    return chosen


async def lead(worker: WorkerProcess, lead_id: str) -> tuple[int, dict[str, Any], str]:
    """GET /leads/{id} on ``worker``: status, document and the worker that answered (the partition's owner)."""
    timeout = aiohttp.ClientTimeout(total=5.0)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(f"{worker.url}/leads/{lead_id}") as answer:
        return answer.status, await answer.json(content_type=None), answer.headers.get(SERVED_BY_HEADER, "")


# What the survivor's log says after the kill, in order: the group rebalanced, its tables were recovered,
# its in-memory indexes rebuilt for the partitions it newly owns before it reads them.
PHASE_MARKS = (("rebalance", "Revoking previously assigned partitions"), ("recovered", "[^---Recovery]: Restore complete!"),
               ("indexes rebuilt", "[^---Recovery]: Seek stream partitions to committed offsets."))


def phases(log: str, since: float) -> dict[str, float]:
    """Seconds after ``since`` (epoch) at which each of PHASE_MARKS appears in a worker's log, each after the one before.

    The log's times are the machine's local time, taken here as UTC (as the benchmark's machines run).
    """
    found: dict[str, float] = {}
    marks = iter(PHASE_MARKS)
    name, mark = next(marks)
    for line in log.splitlines():
        if not line.startswith("[20") or mark not in line:
            continue
        at = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=timezone.utc).timestamp()
        if at >= since:
            found[name] = round(at - since, 1)
            if (following := next(marks, None)) is None:
                break
            name, mark = following
    return found


@dataclass
class Timing:
    session_timeout_s: float
    heartbeat_s: float
    detected_s: float | None = None
    scored_s: dict[int, float] = field(default_factory=dict)  # per dead worker's partition
    caught_up_s: float | None = None
    lag_before: int = 0  # the most committed lag seen on those partitions before the kill
    survivor_log: dict[str, float] = field(default_factory=dict)  # phases(): from the survivor's log


async def two_workers(bench: Bench, pairs: list[tuple[bytes, bytes]], env: dict[str, str]) -> list[WorkerProcess]:
    prefix = await preloaded_app(bench, "failover", dict.fromkeys(PER_LEAD_TABLES, pairs))
    workers = [bench.process(prefix, index) for index in range(2)]
    for worker in workers:
        worker.extra_env.update(env)
    # One after the other: the measurement starts from two workers that hold their leads, each partition's
    # standby copy included, not from a first start's recovery.
    ready_s = READY_TIMEOUT_S + len(pairs) / 1_000
    workers[0].start()
    await workers[0].wait_ready(timeout=ready_s)
    workers[1].start()
    await workers[1].wait_ready(timeout=ready_s)
    deadline = time.monotonic() + ready_s
    while True:
        stats = [(await worker.get_json("/stats"))[1]["leads"] for worker in workers]
        restored = [await restored_leads(worker.url) for worker in workers]
        if sum(stats) >= len(pairs) and min(restored) > len(pairs) - STANDBY_BATCH:
            bench.log(f"         both ready: {stats} leads held, {restored} changelog records read")
            return workers
        if time.monotonic() > deadline:
            raise StageFailed(f"workers hold {stats} leads, read {restored} records of {len(pairs)}")
        await asyncio.sleep(1.0)


async def failover(bench: Bench, pairs: list[tuple[bytes, bytes]], session_timeout_s: float, rate: float,
                   warmup_s: float) -> dict[str, Any]:
    heartbeat_s = min(3.0, session_timeout_s / 3)
    # The wall clock (bench.topology fixes this process's, and the workers would inherit it): the stream is timed now.
    env = {"LEADSTREAM_STORE": "rocksdb", "LEADSTREAM_STANDBY_REPLICAS": "1", "LEADSTREAM_CLOCK": "wall",
           "LEADSTREAM_SESSION_TIMEOUT_S": f"{session_timeout_s:g}", "LEADSTREAM_HEARTBEAT_INTERVAL_S": f"{heartbeat_s:g}"}
    workers = await two_workers(bench, pairs, env)
    survivor, victim = workers
    prefix = survivor.extra_env["LEADSTREAM_TOPIC_PREFIX"]
    timing = Timing(session_timeout_s, heartbeat_s)
    try:
        probes = {}
        for partition, lead_id in probe_leads(pairs, bench.partitions).items():
            if URL((await lead(survivor, lead_id))[2]).port == victim.web_port:
                probes[partition] = lead_id
        if not probes:
            raise StageFailed("the second worker owns no partition")
        after_kill_s = max(session_timeout_s + 30.0, 40.0)
        stream = generate(int(rate * (warmup_s + after_kill_s)), int(rate * 4), seed=29,
                          start=time.time() + 1.0, spacing_s=1.0 / rate, lead_prefix="fo-")
        async with GroupLag(bench.broker.bootstrap, prefix[:-1], bench.broker.client_kwargs) as lag:
            raw = [TopicPartition(prefix + RAW_EVENTS, p) for p in range(bench.partitions)]
            theirs = [tp for tp in raw if tp.partition in probes]
            client = producer(bench.broker.bootstrap, bench.broker.client_kwargs, linger_ms=1)
            await client.start()
            try:
                sending = asyncio.create_task(_produce_steadily(client, prefix + RAW_EVENTS, stream, rate, warmup_s))
                warm_until = time.monotonic() + warmup_s
                await asyncio.sleep(2.0)  # lag before the kill: once the stream has settled
                while time.monotonic() < warm_until:
                    timing.lag_before = max(timing.lag_before, sum((await lag.of(theirs)).values()))
                    await asyncio.sleep(0.5)
                rebalances = await metric_total(survivor.url, REJOINED)
                victim_accounting = (await victim.get_json("/accounting"))[1]
                os.kill(victim.pid, signal.SIGKILL)
                killed_at, killed_epoch = time.monotonic(), time.time()
                sent_at = {}
                for partition, lead_id in probes.items():
                    sent_at[partition] = time.time()
                    await client.send_and_wait(prefix + RAW_EVENTS, probe_event(lead_id, f"probe-{partition}",
                                                                             sent_at[partition]),
                                               key=lead_id.encode())
                await _watch(survivor, lag, theirs, probes, sent_at, rebalances, killed_at, timing)
                timing.survivor_log = phases(survivor.log_path.read_text(errors="replace"), killed_epoch)
                await sending
            finally:
                await client.stop()
            await _drained(lag, raw + [TopicPartition(prefix + SIGNALS, p) for p in range(bench.partitions)], survivor)
        victim.kill()
        reference = await final_leads(list(stream.pairs()), received_at=time.time())
        crowded = sum(len(lead_records.decode_state(k.decode(), v).recent_event_ids) >= DEDUPE_WINDOW
                      for k, v in reference.items())
        if crowded:
            raise StageFailed(f"{crowded} stream leads have more events than a state remembers: lower --rate")
        held = await compacted(bench.broker.bootstrap, f"{prefix[:-1]}-leads-changelog", bench.partitions,
                               bench.broker.client_kwargs)
        loss = compare(reference, held)
        probes_kept = sum(lead_id.encode() in held and event_hash(f"probe-{p}") in
                          lead_records.decode_state(lead_id, held[lead_id.encode()]).recent_event_ids
                          for p, lead_id in probes.items())
        leads_held = (await survivor.get_json("/stats"))[1]["leads"]
        survivor_accounting = await summed_accounting([survivor])
    finally:
        for worker in workers:
            worker.stop()
    return {"timing": timing, "loss": loss, "probes": len(probes), "probes_kept": probes_kept,
            "partitions_taken_over": sorted(probes), "events_sent": len(stream) + len(probes),
            "leads_held": leads_held, "leads_expected": len(pairs) + len(reference),
            "victim_accounting_at_kill": victim_accounting, "survivor_accounting": survivor_accounting}


async def _watch(survivor: WorkerProcess, lag: GroupLag, theirs: list[TopicPartition], probes: dict[int, str],
                 sent_at: dict[int, float], rebalances: float, killed_at: float, timing: Timing) -> None:
    """Polls the survivor from the kill until it has noticed, scored every probe and caught up (bounded)."""
    deadline = killed_at + timing.session_timeout_s + 120.0
    while timing.caught_up_s is None:
        now = time.monotonic()
        if now > deadline:
            raise StageFailed(f"no takeover {now - killed_at:.0f} s after the kill: {timing}\n{survivor.log_tail()}")
        if timing.detected_s is None and await metric_total(survivor.url, REJOINED) > rebalances:
            timing.detected_s = now - killed_at
        for partition in set(probes) - set(timing.scored_s):
            try:
                status, document, _ = await lead(survivor, probes[partition])
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                continue  # the survivor is busy rebalancing, or forwards to the dead worker
            if status == 200 and document.get("as_of") and _epoch(document["as_of"]) >= sent_at[partition] - 0.002:
                timing.scored_s[partition] = now - killed_at
        if len(timing.scored_s) == len(probes) and sum((await lag.of(theirs)).values()) <= timing.lag_before:
            timing.caught_up_s = time.monotonic() - killed_at
        await asyncio.sleep(POLL_S)


async def _drained(lag: GroupLag, partitions: list[TopicPartition], survivor: WorkerProcess) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while left := {f"{tp.topic.rsplit('.', 1)[-1]}/{tp.partition}": n for tp, n in (await lag.of(partitions)).items()
                   if n}:
        if time.monotonic() > deadline:
            reread = await metric_total(survivor.url, "leadstream_partitions_reread_total")
            raise StageFailed(f"the survivor left events uncommitted after {DRAIN_TIMEOUT_S:.0f} s: {left}; "
                              f"its accounting {(await survivor.get_json('/accounting'))[1]}, {reread:g} partitions reread")
        await asyncio.sleep(0.5)


def lines(result: dict[str, Any]) -> list[str]:
    timing: Timing = result["timing"]
    loss: Loss = result["loss"]
    scored = sorted(timing.scored_s.values())
    # The log's time first: /metrics is not answered while the survivor's loop is blocked rebuilding its indexes.
    rebalanced = timing.survivor_log.get("rebalance", timing.detected_s)
    answered = "not seen" if timing.detected_s is None else f"{timing.detected_s:.1f} s"
    detected = f"{rebalanced:.1f} s (/metrics showed it at {answered})" if rebalanced is not None else "not seen"
    takeover = f"{scored[0] - rebalanced:.1f}–{scored[-1] - rebalanced:.1f} s" if rebalanced is not None else "-"
    return [
        f"session timeout {timing.session_timeout_s:g} s, heartbeat {timing.heartbeat_s:g} s; "
        f"{len(result['partitions_taken_over'])} partitions taken over {result['partitions_taken_over']}",
        f"  kill → rebalance seen (detection)        {detected}",
        f"  rebalance → probes scored (takeover)     {takeover}",
        f"  kill → first / last probe scored         {scored[0]:.1f} s / {scored[-1]:.1f} s"
        f"   target ≤ 10 s: {'met' if scored[-1] <= 10 else 'MISS'}",
        "  the survivor's log, s after the kill: " + ", ".join(f"{k} {v}" for k, v in timing.survivor_log.items()),
        f"  kill → lag back to its level before      {timing.caught_up_s:.1f} s (≤ {timing.lag_before:,} events)",
        f"  nothing lost: {loss.events:,} events scored by an uninterrupted run over {loss.leads:,} stream leads:"
        f" {loss.missing} missing, {loss.unexpected} unexpected, {loss.leads_missing} leads missing"
        f"{' e.g. ' + '; '.join(loss.examples) if loss.examples else ''}",
        f"  probes in their lead's state: {result['probes_kept']} of {result['probes']}; leads held by the survivor:"
        f" {result['leads_held']:,} of {result['leads_expected']:,}",
        f"  events sent {result['events_sent']:,}; dead worker at its kill: {_buckets(result['victim_accounting_at_kill'])}",
        f"  survivor: {_buckets(result['survivor_accounting'])}",
    ]


def _buckets(accounting: dict[str, Any]) -> str:
    names = ("received", "scored", "ignored", "deduplicated", "dead_lettered", "held")
    return ", ".join(f"{name} {accounting[name]:,}" for name in names)


async def main_async(leads: int, source: int, timeouts: list[float], rate: float, warmup_s: float) -> None:
    records = await source_leads(source, recent=True)
    pairs = cloned(records, leads)
    print(f"{len(pairs):,} leads (cloned from {len(records):,}); stream {rate:,.0f} events/s")
    workdir = Path(tempfile.mkdtemp(prefix="leadstream-failover-"))
    with _broker(BenchOptions(), workdir, print) as broker:
        bench = Bench(broker, workdir, BenchOptions().partitions, print)
        await warm_up_groups(broker.bootstrap, broker.client_kwargs)
        for timeout in timeouts:
            print(f"failover with a {timeout:g} s session timeout; logs in {workdir}")
            for line in lines(await failover(bench, pairs, timeout, rate, warmup_s)):
                print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--source-leads", type=int, default=2_000, help="leads scored, then cloned to --leads")
    parser.add_argument("--session-timeouts", default="30,6", help="seconds, one run each")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s of the steady stream")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of stream before the kill")
    args = parser.parse_args()
    logging.getLogger("aiokafka.producer.sender").setLevel(logging.ERROR)  # a new topic's leaders settle: retried
    asyncio.run(main_async(args.leads, args.source_leads, [float(t) for t in args.session_timeouts.split(",")],
                           args.rate, args.warmup))


if __name__ == "__main__":
    main()
