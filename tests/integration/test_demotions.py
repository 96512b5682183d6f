"""Leads cool on their own: demotions fire at the crossing time, once per threshold, also after restarts.

The model here has half-lives of seconds and the workers run on the wall clock, so scores decay
while the test watches. The expected demotions are computed by replaying the same bytes
through the pure scoring core, exactly as the worker's demote step does.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from scoring import apply, interpret, load_model
from scoring.crossing import next_demotion
from scoring.signals import Signal
from streams.contracts.encoding import iso_time
from streams.contracts.segment import decode_segment
from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import ICP_TRAITS, RunningPipeline, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
SHIPPED_MODEL = Path(__file__).parents[2] / "scoring" / "default_model.toml"
TICK_S = 0.2
TIMED = ("decay", "inactivity")  # demotions the timer makes: a rung giving way, a quiet SQL ending


@pytest.fixture(scope="module")
def fast_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model with half-lives of seconds (intent 6 s, interest 12 s, negatives 6 s) and a
    sales-qualified lead's inactivity bound of 20 s."""
    text = SHIPPED_MODEL.read_text()
    original = "[half_life_days]\ninterest = 30\nintent = 7\nnegative = 14\n"
    assert original in text
    path = tmp_path_factory.mktemp("fast-model") / "fast.toml"
    path.write_text(text.replace(original, f"[half_life_days]\ninterest = {12 / 86400}\nintent = {6 / 86400}\n"
                                           f"negative = {6 / 86400}\n")
                    .replace("inactivity_bound_weeks = 8", f"inactivity_bound_weeks = {20 / 604800}"))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cooling(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, fast_model: Path):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("demotions"), env={
        "LEADSTREAM_MODEL": str(fast_model), "LEADSTREAM_CLOCK": "wall", "LEADSTREAM_DEMOTION_TICK_S": str(TICK_S),
    })
    yield running
    await stop_pipeline(running)


def now_iso(offset_s: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset_s, timezone.utc).isoformat()


def hot_journey(lead: str) -> list[dict[str, Any]]:
    """Interest 35 and intent 40 within half a second, then every BANT criterion: SQL and hot."""
    def message(n: int, **body: Any) -> dict[str, Any]:
        return {"messageId": f"{lead}-{n}", "userId": lead, "timestamp": now_iso(), **body}

    return [
        message(1, type="identify", traits={"email": f"{lead}@acme.io", **ICP_TRAITS}),
        message(2, type="track", event="Case Study Downloaded"),
        message(3, type="page", properties={"path": "/product"}),
        message(4, type="track", event="Webinar Attended"),
        message(5, type="page", properties={"path": "/pricing"}),
        message(6, type="track", event="Demo Requested"),
        message(7, type="track", event="Qualification Form Submitted",
                properties={"criteria": {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "Q1"}}),
    ]


def expected_demotions(messages: list[dict[str, Any]], model_path: Path) -> list[tuple[str, str, str, str, str]]:
    """(from stage, to stage, from temperature, to temperature, crossing time) of every demotion to come."""
    model = load_model(model_path)
    state = None
    for message in messages:
        raw = orjson.dumps(message)
        event = decode_segment(raw, time.time() + 3600, 32 * 1024)
        state = apply(state, interpret(event, model), model).state
    demotions = []
    while (due := next_demotion(state, model)) is not None and len(demotions) < 10:
        decision = apply(state, Signal(f"decay:{due!r}", state.lead_id, False, None, due), model, cause="decay")
        state = decision.state
        if decision.change:
            c = decision.change
            demotions.append((c.from_stage.value, c.to_stage.value, c.from_temperature.value,
                              c.to_temperature.value, iso_time(due)))
    return demotions


def decays(changes: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    return [(c["from_stage"], c["to_stage"], c["from_temperature"], c["to_temperature"], c["cause"]["crossing_time"])
            for c in changes if c["cause"]["type"] in TIMED]


async def wait_for_decays(pipeline: RunningPipeline, lead: str, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        changes = await pipeline.wait_for_changes(lead, at_least=1, timeout=timeout)
        if len(decays(changes)) >= count or time.monotonic() > deadline:
            return changes
        await asyncio.sleep(0.2)


async def test_a_hot_lead_left_alone_is_demoted_at_each_crossing_time_exactly_once(
    cooling: RunningPipeline, fast_model: Path
):
    messages = hot_journey("cooling-1")
    await cooling.send_all(messages)
    expected = expected_demotions(messages, fast_model)
    # Intent fades first: no longer hot, but the SQL (every criterion confirmed) holds until the bound.
    assert [e[:4] for e in expected][0] == ("sql", "sql", "hot", "warm"), expected
    assert expected[-1][:2] == ("sql", "recycled")

    await wait_for_decays(cooling, "cooling-1", len(expected), timeout=90)
    # The last demotion is out and no crossing is left: once the worker has committed every timer
    # command it sent itself and the recorder has read the topic's end, nothing more can come.
    await cooling.caught_up()
    changes = await cooling.wait_for_changes("cooling-1", at_least=1)
    assert decays(changes) == expected  # each threshold once, at its crossing time to the millisecond
    for change in changes:
        assert_matches_contract("leads.qualification", change)
        if change["cause"]["type"] in TIMED:
            crossing = datetime.fromisoformat(change["cause"]["crossing_time"]).timestamp()
            emitted = datetime.fromisoformat(change["emitted_at"]).timestamp()
            assert emitted >= crossing, "fired before its crossing time"
            assert change["event_time"] == change["cause"]["crossing_time"]


async def test_a_new_event_before_the_crossing_moves_the_crossing_time(cooling: RunningPipeline, fast_model: Path):
    messages = hot_journey("cooling-2")
    await cooling.send_all(messages)
    first_due = datetime.fromisoformat(expected_demotions(messages, fast_model)[0][4]).timestamp()
    # At once, as far before the first crossing as the journey allows (seconds: the intent half-life).
    renewal = {"type": "track", "event": "Demo Requested", "messageId": "cooling-2-renewed", "userId": "cooling-2",
               "timestamp": now_iso()}
    await cooling.send(renewal)
    expected = expected_demotions([*messages, renewal], fast_model)
    assert datetime.fromisoformat(expected[0][4]).timestamp() > first_due  # the renewal moved the crossing

    changes = await wait_for_decays(cooling, "cooling-2", len(expected), timeout=90)
    assert decays(changes) == expected


async def test_demotions_due_while_the_worker_was_down_fire_at_recovery_with_their_crossing_times(
    cooling: RunningPipeline, fast_model: Path
):
    messages = hot_journey("cooling-3")
    await cooling.send_all(messages)
    await cooling.wait_for_changes("cooling-3", at_least=3)
    expected = expected_demotions(messages, fast_model)
    worker = cooling.worker
    worker.stop()
    # Down past the first two crossings.
    await asyncio.sleep(max(datetime.fromisoformat(expected[1][4]).timestamp() - time.time() + 1.0, 0))
    restarted_at = time.time()
    worker.start()
    await worker.wait_ready()

    changes = await wait_for_decays(cooling, "cooling-3", len(expected), timeout=90)
    assert decays(changes) == expected
    late = [c for c in changes if c["cause"]["type"] in TIMED][:2]
    for change in late:
        assert datetime.fromisoformat(change["cause"]["crossing_time"]).timestamp() < restarted_at
        assert datetime.fromisoformat(change["emitted_at"]).timestamp() >= restarted_at
