"""`leadstream bench --shadow`: what running a shadow model beside the live one costs, in events/s.

The same workload through one `leadstream worker`, first alone, then with a shadow model put on
before it starts (`leadstream model shadow`): every event is then classified twice and every
lead keeps a second state. The target: at most 30% slower with the shadow on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.throughput import Bench, StageResult, production
from bench.workload import Workload
from streams.config.environment import Settings
from streams.contracts.control_records import SHADOW_KEY, control_topic_name, encode_model_shadow

MAX_SLOWDOWN = 0.30  # the bound: a shadow may cost at most this share of the events/s
SHIPPED_MODEL = Path(__file__).resolve().parents[1] / "scoring" / "default_model.toml"
# A candidate a team would try: richer webinars, the same half-lives (else it would be refused).
CANDIDATE_EDITS = (('version = "default-3"', 'version = "bench-shadow"'),
                   ('webinar_attended = { component = "interest", points = 20, cap = 40 }',
                    'webinar_attended = { component = "interest", points = 40, cap = 80 }'))


def candidate_text() -> str:
    text = SHIPPED_MODEL.read_text("utf-8")
    for old, new in CANDIDATE_EDITS:
        if old not in text:
            raise AssertionError(f"the shipped model no longer has {old!r}: update bench/shadow.py")
        text = text.replace(old, new)
    return text


async def put_shadow(config: Settings) -> None:
    """What `leadstream model shadow` publishes, written before the worker starts: it runs the shadow from its first event."""
    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap_servers, acks="all",
                                **config.security.client_kwargs())
    await producer.start()
    try:
        await producer.send_and_wait(control_topic_name(config), encode_model_shadow(
            candidate_text(), "bench-shadow", time.time()), key=SHADOW_KEY)
    finally:
        await producer.stop()


async def shadow_stages(bench: Bench, workload: Workload, say: Any) -> tuple[StageResult, StageResult]:
    say("[1/2] leadstream worker, one process, no shadow")
    alone, _ = await production(bench, workload, workers=1)
    say(f"         {alone.eps:,.0f} events/s")
    say("[2/2] leadstream worker, one process, a shadow model beside the live one")
    beside, _ = await production(bench, workload, workers=1, before_start=put_shadow)
    say(f"         {beside.eps:,.0f} events/s")
    return alone, beside


def shadow_lines(alone: StageResult, beside: StageResult) -> list[str]:
    slower = 1.0 - beside.eps / alone.eps if alone.eps else 1.0
    met = slower <= MAX_SLOWDOWN
    return [
        f"{'leadstream worker, no shadow':<42}{alone.eps:>10,.0f} events/s",
        f"{'leadstream worker, shadow on':<42}{beside.eps:>10,.0f} events/s",
        "",
        "target:",
        f"  {'met ' if met else 'MISS'}  a shadow costs at most {MAX_SLOWDOWN:.0%} of events/s"
        f"{'':<6} {slower:.1%} slower",
    ]


def shadow_figures(alone: StageResult, beside: StageResult) -> dict[str, Any]:
    slower = 1.0 - beside.eps / alone.eps if alone.eps else 1.0
    return {"leadstream_eps": round(alone.eps, 1), "leadstream_shadow_eps": round(beside.eps, 1),
            "shadow_slowdown": round(slower, 3), "shadow_target_met": slower <= MAX_SLOWDOWN,
            "shadow_target": MAX_SLOWDOWN}
