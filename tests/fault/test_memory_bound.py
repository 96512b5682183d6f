"""A flood of unique anonymous visitors: what is held stays bounded, expires, and is accounted as ignored."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest

from tests.fault.harness import live_accounting, table_states, wait_until
from tests.integration.pipeline_harness import start_pipeline, stop_pipeline, visit

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.asyncio(loop_scope="session")]
TTL_S = 2.0
RATE_PER_S = 300
FLOOD_S = 10.0  # five times the TTL: the held count must level off, not climb
# Held events are at most those seen within the TTL, plus what the expiry timer (every TTL/4) and
# its round trip through leads.signals have not caught up with yet (seconds on a busy machine):
# well below the flood's total, which is what an unbounded table would hold at its end.
HELD_BOUND = int(RATE_PER_S * (TTL_S + 4.0))
# The worker's resident memory (VmRSS) may grow by this much under the flood, peak over idle: about
# twelve times the 5 MB measured on a 2-core machine, room for the Kafka clients' buffers, allocator
# arenas and a busy machine. A table unbounded at this flood's size would be a few MB (HELD_BOUND
# catches it); this catches what the held count does not see, such as 20 KB kept per event.
RSS_GROWTH_BOUND_MB = 64.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def test_a_flood_of_unique_anonymous_visitors_stays_bounded_and_expires_as_ignored(
    kafka_bootstrap: str, tmp_path, fault_outcome,
):
    pipeline = await start_pipeline(kafka_bootstrap, tmp_path, workers=1,
                                    env={"LEADSTREAM_ANONYMOUS_TTL_S": str(TTL_S)})
    try:
        worker = pipeline.worker
        rss_before = rss_mb(worker.pid)
        peak_held, peak_rss = 0, rss_before
        flooding = True

        async def watch() -> None:
            nonlocal peak_held, peak_rss
            while flooding:
                peak_held = max(peak_held, (await worker.get_json("/accounting"))[1]["held"])
                peak_rss = max(peak_rss, rss_mb(worker.pid))
                await asyncio.sleep(0.25)

        watcher = asyncio.create_task(watch())
        visitors = int(RATE_PER_S * FLOOD_S)
        started = time.monotonic()
        for tick in range(int(FLOOD_S * 10)):
            deliveries = []
            for n in range(RATE_PER_S // 10):
                visitor = f"flood-{tick}-{n}"
                deliveries.append(await pipeline.producer.send(
                    pipeline.topic("leads.events.raw"), orjson.dumps(visit(visitor, f"{visitor}-1", "/blog")),
                    key=visitor.encode()))
            await asyncio.gather(*deliveries)
            pipeline.sent += len(deliveries)
            await asyncio.sleep(max(started + (tick + 1) / 10 - time.monotonic(), 0))
        flood_s = time.monotonic() - started

        async def all_expired() -> dict | None:
            accounting = await live_accounting(pipeline)
            done = accounting["received"] == visitors and accounting["held"] == 0 and accounting["balanced"]
            return accounting if done else None

        accounting = await wait_until(all_expired, 60, "every held visit to expire")
        drained_s = time.monotonic() - started - flood_s
        flooding = False
        await watcher
        assert accounting["ignored_by_reason"] == {"expired_anonymous": visitors}, accounting
        assert accounting["scored"] == 0 and accounting["dead_lettered"] == 0
        assert 0 < peak_held <= HELD_BOUND < visitors, (peak_held, HELD_BOUND)
        assert peak_rss - rss_before <= RSS_GROWTH_BOUND_MB, (rss_before, peak_rss)
        remaining = await table_states(pipeline, "visitors")
        assert not remaining, f"{len(remaining)} visitors still in the table"
        rss_after = rss_mb(worker.pid)
        fault_outcome(
            "memory bound (flood of unique anonymous visitors)", visitors_sent=visitors,
            rate_per_s=round(visitors / flood_s), ttl_s=TTL_S, peak_held=peak_held, held_bound=HELD_BOUND,
            expired_as_ignored=accounting["ignored_by_reason"]["expired_anonymous"], held_at_end=accounting["held"],
            visitors_left_in_table=len(remaining), rss_mb_before=round(rss_before), rss_mb_peak=round(peak_rss),
            rss_mb_after=round(rss_after), drained_after_flood_s=round(drained_s, 1),
        )
    finally:
        await stop_pipeline(pipeline)
