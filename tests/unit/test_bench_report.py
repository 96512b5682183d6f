"""The benchmark's table says which targets a run met, and never credits a latency measured at another rate."""

from __future__ import annotations

import os
import time

from bench.cli import BenchOptions, BenchReport, render
from bench.latency import LatencyResult
from bench.memory import MemoryResult
from bench.throughput import StageResult, cpu_seconds, cpu_shares

STAGE_EPS = {"raw": 100_000, "noop": 4_000, "naive": 1_000, "leadstream": 3_500, "leadstream_rocksdb": 3_100,
             "leadstream_2w": 5_000}


def a_report(p50_ms: float, p99_ms: float, rate: float) -> BenchReport:
    report = BenchReport("kafka at 127.0.0.1:9092", {"events": 1_000, "leads": 100, "partitions": 8})
    report.stages = [StageResult(key, eps, 1.0, {"key": key}, load_after=0.5) for key, eps in STAGE_EPS.items()]
    report.latency = LatencyResult(rate=rate, events=1_000, changes=100, p50_ms=p50_ms, p99_ms=p99_ms, max_ms=p99_ms,
                                   end_to_end_p50_ms=p50_ms, end_to_end_p99_ms=p99_ms)
    report.memory = MemoryResult(baseline_leads=1_000, target_leads=2_000, baseline_rss=10_000_000,
                                 target_rss=11_500_000, mean_state_bytes=900.0, mean_history_bytes=300.0)
    return report


def verdicts(lines: list[str]) -> dict[str, bool]:
    targets = lines[lines.index("targets (ratios from this run):") + 1:]
    return {line[8:46].strip(): line.startswith("  met") for line in targets if line.startswith(("  met", "  MISS"))}


def test_each_target_is_met_or_missed_by_the_runs_own_figures():
    lines = render(a_report(p50_ms=12.0, p99_ms=60.0, rate=2_000), BenchOptions())

    assert verdicts(lines) == {
        "leadstream ≥ 1.5 × framework limit": False,  # 3,500 < 1.5 × 4,000
        "leadstream ≥ 4 × naive scorer": False,  # 3,500 < 4 × 1,000
        "two workers ≥ 1.4 × one": True,  # 5,000 / 3,500 = 1.43
        "RocksDB store ≥ 0.9 × memory store": False,  # 3,100 / 3,500 = 0.886
        "p50 ≤ 15 ms at 2,000 events/s": True,
        "p99 ≤ 50 ms at 2,000 events/s": False,
        "bytes per lead ≤ 1,000": False,  # 1,500,000 B over 1,000 leads
    }


def test_a_latency_measured_at_a_lower_rate_meets_no_latency_target():
    lines = render(a_report(p50_ms=10.0, p99_ms=40.0, rate=300), BenchOptions(latency_rate=300))

    met = verdicts(lines)
    assert not met["p50 ≤ 15 ms at 2,000 events/s"] and not met["p99 ≤ 50 ms at 2,000 events/s"]
    assert any("at 300 events/s: not the target's rate" in line for line in lines), lines


def test_the_table_gives_the_cpu_the_workers_and_the_broker_used_in_cores():
    report = a_report(p50_ms=25.0, p99_ms=40.0, rate=2_000)
    stages = {stage.detail["key"]: stage for stage in report.stages}
    stages["leadstream"].detail["cpu_share"] = {"broker": 0.41, "workers": [0.97]}
    stages["leadstream_rocksdb"].detail["cpu_share"] = {"broker": 0.40, "workers": [0.99]}
    stages["leadstream_2w"].detail["cpu_share"] = {"broker": None, "workers": [0.88, 0.86]}
    lines = render(report, BenchOptions())
    assert ("CPU used, in cores: leadstream: workers 0.97, broker 0.41; leadstream_rocksdb: workers 0.99, broker 0.40; "
            "leadstream_2w: workers 0.88 + 0.86, broker not measured (not started here)") in lines


def test_the_rocksdb_stage_is_set_beside_the_memory_store_and_its_target_met_at_nine_tenths():
    report = a_report(p50_ms=12.0, p99_ms=40.0, rate=2_000)
    next(s for s in report.stages if s.detail["key"] == "leadstream_rocksdb").events = 3_150
    lines = render(report, BenchOptions())
    assert verdicts(lines)["RocksDB store ≥ 0.9 × memory store"]  # 3,150 / 3,500 = 0.90
    assert any(line.startswith("leadstream worker (RocksDB store)") and "3,150" in line for line in lines), lines
    assert report.figures()["leadstream_rocksdb_eps"] == 3_150.0


def test_cpu_seconds_are_read_for_a_live_process_and_none_without_one():
    busy_until = time.process_time() + 0.05
    while time.process_time() < busy_until:
        pass
    used = cpu_seconds(os.getpid())
    assert used is not None and used >= 0.05
    assert cpu_seconds(None) is None
    assert cpu_shares([1.0, None], [3.0, 2.0], seconds=4.0) == [0.5, None]
