"""Demotion-index benchmark: the timer's tick cost must not grow with the number of leads held.

Run: python -m bench.due_index [--due 100] [--ticks 200]
Holds 10k, 100k and 1M leads whose demotions are spread over the next 30 days, makes the same
number of them due at every tick, and measures the tick (pop the due leads, reschedule them),
side by side in one run. Prints the cost per tick and its ratio to the 10k case.
"""

from __future__ import annotations

import argparse
import random
import time

from scoring.due_index import DueIndex

SIZES = (10_000, 100_000, 1_000_000)
NOW = 1_800_000_000.0
MONTH_S = 30 * 86_400.0


def fill(size: int, rng: random.Random, after: float) -> DueIndex:
    """``size`` leads due at random over the month after ``after`` (none during the measured ticks)."""
    index = DueIndex()
    for n in range(size):
        index.schedule(f"lead-{n}", after + rng.random() * MONTH_S)
    return index


def tick_cost(index: DueIndex, due_per_tick: int, ticks: int, rng: random.Random) -> float:
    """Median seconds per tick: pop what is due, then reschedule those leads a few days out."""
    costs = []
    for tick in range(ticks):
        now = NOW + tick
        for n in range(due_per_tick):  # the same few leads come due again at every tick
            index.schedule(f"due-{n}", now - 0.5)
        started = time.perf_counter()
        popped = index.pop_due(now)
        for lead_id, _ in popped:
            index.schedule(lead_id, now + 86_400.0 * (1 + rng.random() * 5))
        costs.append(time.perf_counter() - started)
        assert len(popped) == due_per_tick
    costs.sort()
    return costs[len(costs) // 2]


def scan_cost(index: DueIndex, now: float) -> float:
    """What a timer that scans every lead would pay per tick (the design this index avoids)."""
    started = time.perf_counter()
    due = [lead_id for lead_id, at in index._due.items() if at <= now]  # noqa: SLF001 — the baseline
    assert due is not None
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=100, help="leads due per tick")
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    results = []
    for size in SIZES:
        index = fill(size, rng, after=NOW + args.ticks + 10.0)
        cost = tick_cost(index, args.due, args.ticks, rng)
        results.append((size, cost, scan_cost(index, NOW + args.ticks), len(index)))
    base, scan_base = results[0][1], results[0][2]
    print(f"demotion index: {args.due} leads due per tick, median of {args.ticks} ticks")
    print(f"{'leads held':>12} {'index tick':>12} {'vs 10k':>8} {'full scan':>12} {'vs 10k':>8}")
    for size, cost, scan, held in results:
        print(f"{held:>12,} {cost * 1e6:>10.1f}µs {cost / base:>7.2f}x {scan * 1e3:>10.2f}ms {scan / scan_base:>7.1f}x")


if __name__ == "__main__":
    main()
