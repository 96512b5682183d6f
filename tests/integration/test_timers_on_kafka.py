"""A quarter later, on a real worker and real Kafka: a quiet good-fit lead comes due for another look once,
and a silent committee's account cools on the timer, at the times the pure core computes.

The worker's clock is scripted (``LEADSTREAM_CLOCK=fixed:...``): the journeys happen on the morning
of T0, the worker first stands at noon (nothing is due), then is restarted a hundred days on, when
the revisit and the coolings have fallen due while no worker ran; a second restart at the same
time shows the revisit is not made again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from scoring import load_model
from scoring.replay import replay
from scoring.account_timer import cool_account, next_account_change
from scoring.accounts import AccountState, update_member
from streams.contracts import account_records
from streams.contracts.encoding import iso_time
from streams.contracts.segment import decode_segment
from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import (
    T0, RunningPipeline, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
MODEL = load_model()  # the worker runs the shipped model: revisits after 90 days at fit 50 or more
LATER = T0 + timedelta(days=100)
TITLES = ("VP Marketing", "Marketing Manager", "Data Analyst")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def quarter(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("timers"))
    yield running
    await stop_pipeline(running)


def committee(domain: str) -> list[dict[str, Any]]:
    """Three people engaging within half an hour: the account turns hot, no one person does."""
    events = []
    for n, title in enumerate(TITLES):
        lead, start = f"{domain}-person-{n}", n * 10
        events += [identify(lead, f"{lead}-1", f"{lead}@{domain}", start, title=title),
                   track(lead, f"{lead}-2", "Case Study Downloaded", start + 1),
                   page(lead, f"{lead}-3", "/product", start + 2),
                   track(lead, f"{lead}-4", "Webinar Attended", start + 3),
                   page(lead, f"{lead}-5", "/pricing", start + 4)]
    return events


def records(pipeline: RunningPipeline, topic: str) -> list[tuple[bytes | None, dict[str, Any]]]:
    return [(key, orjson.loads(value)) for key, value in pipeline.recorder.records[pipeline.topic(topic)] if value]


def revisits(pipeline: RunningPipeline) -> dict[str, dict[str, Any]]:
    """Every revisit_due record, by change id (a re-sent one counts once)."""
    return {r["change_id"]: r for _, r in records(pipeline, "leads.qualification") if r.get("kind") == "revisit_due"}


def account_changes(pipeline: RunningPipeline, domain: str) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for _, change in records(pipeline, "accounts.qualification"):
        if change["account"] == domain:
            seen.setdefault(change["change_id"], change)
    return sorted(seen.values(), key=lambda change: change["sequence"])


def expected_coolings(pipeline: RunningPipeline, domain: str, until: float) -> list[tuple[str, str, str]]:
    """The account's member updates as the worker read them, then the pure timer up to ``until``."""
    account = AccountState(domain)
    for key, body in records(pipeline, "accounts.members"):
        if key == domain.encode() and "cool_at" not in body:
            _, updates, _ = account_records.decode_account_record(orjson.dumps(body))
            for lead_id, member in updates:
                account, _ = update_member(account, member, lead_id, MODEL.half_life_seconds, MODEL.accounts)
    moves = []
    while (due := next_account_change(account, MODEL.half_life_seconds, MODEL.accounts)) is not None and due <= until:
        account, change = cool_account(account, due, MODEL.half_life_seconds, MODEL.accounts)
        if change is not None:
            moves.append((change.from_temperature.value, change.to_temperature.value, iso_time(due)))
    return moves


def expected_revisits(messages: list[dict[str, Any]], until: float) -> dict[str, tuple[str, str, str]]:
    """change id -> (lead, due time, reason) of every revisit the pure core makes of the same bytes by ``until``."""
    history = [decode_segment(orjson.dumps(message), T0.timestamp() + 86_400, 32 * 1024) for message in messages]
    run = replay(history, MODEL, until=until)
    return {c.change_id: (c.lead_id, iso_time(c.event_time), c.cause_detail) for c in run.changes
            if c.cause == "revisit"}


async def restart_at(pipeline: RunningPipeline, clock: str) -> None:
    worker = pipeline.worker
    worker.stop()
    worker.extra_env["LEADSTREAM_CLOCK"] = f"fixed:{clock}"
    worker.start()
    await worker.wait_ready()


async def gauge(pipeline: RunningPipeline, name: str) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.get(pipeline.worker.url + "/metrics") as response:
            text = await response.text()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name)


async def wait_until(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_a_quarter_later_the_quiet_lead_comes_due_once_and_the_silent_account_has_cooled(
    quarter: RunningPipeline,
):
    domain = "umbrella.io"
    messages = [identify("quiet-cio", "quiet-cio-1", "cio@initrode.io", 0, title="Chief Information Officer"),
                identify("quiet-kid", "quiet-kid-1", "kid@gmail.com", 0, title="Student", industry="education",
                         employees=10),
                *committee(domain)]
    await quarter.send_all(messages)
    await quarter.recorder.wait_for(quarter.topic("accounts.qualification"),
                                    lambda rs: any(r["account"] == domain and r["to_temperature"] == "hot" for r in rs))
    await quarter.caught_up()
    assert revisits(quarter) == {}  # at noon on day one nothing is due
    assert [c["to_temperature"] for c in account_changes(quarter, domain)] == ["warm", "hot"]

    # A hundred days on: the worker finds what fell due while it was down, and fires it at its own time.
    await restart_at(quarter, LATER.isoformat())
    cio_due = iso_time((T0 + timedelta(days=90)).timestamp())
    coolings = expected_coolings(quarter, domain, LATER.timestamp())
    assert [move[:2] for move in coolings] == [("hot", "warm"), ("warm", "cold")]
    expected = expected_revisits(messages, LATER.timestamp())
    assert {lead for lead, _, _ in expected.values()} == {"quiet-cio", *(f"{domain}-person-{n}" for n in range(3))}
    await quarter.recorder.wait_for(quarter.topic("leads.qualification"),
                                    lambda rs: {r["change_id"] for r in rs if r.get("kind") == "revisit_due"}
                                    >= expected.keys())
    await quarter.recorder.wait_for(quarter.topic("accounts.qualification"),
                                    lambda rs: any(r["account"] == domain and r["to_temperature"] == "cold"
                                                   for r in rs))
    await quarter.caught_up()

    made = revisits(quarter)
    assert {key: (r["lead_id"], r["revisit"]["due_at"], r["revisit"]["reason"]) for key, r in made.items()} == expected
    [cio] = [r for r in made.values() if r["lead_id"] == "quiet-cio"]
    assert (cio["revisit"], cio["to_stage"], cio["to_temperature"]) == (
        {"reason": "cold", "due_at": cio_due}, "iql", "cold")
    assert not [r for r in made.values() if r["lead_id"] == "quiet-kid"]  # poor fit: never revisited
    for record in made.values():
        assert_matches_contract("leads.qualification", record)
    cooled = account_changes(quarter, domain)[2:]
    assert [(c["from_temperature"], c["to_temperature"], c["event_time"]) for c in cooled] == coolings
    for change in cooled:
        assert_matches_contract("accounts.qualification", change)
    status, listed = await quarter.worker.get_json("/revisits?limit=10")
    assert status == 200 and listed["leads"][0]["lead_id"] == "quiet-cio"
    assert listed["leads"][0]["revisit"]["due_at"] == cio_due

    # Restarted again at the same time: its timer is rebuilt from the tables, and makes nothing twice.
    await restart_at(quarter, LATER.isoformat())
    waiting = len({r["lead_id"] for r in made.values()})
    await wait_until(lambda: _gauge_is(quarter, "leadstream_revisit_queue_leads", waiting),
                     f"a tick of the restarted worker's timer to count the {waiting} leads awaiting a revisit")
    await quarter.caught_up()
    await quarter.caught_up()  # what that tick sent, handled too
    assert revisits(quarter).keys() == made.keys()
    assert account_changes(quarter, domain)[2:] == cooled


async def _gauge_is(pipeline: RunningPipeline, name: str, value: float) -> bool:
    try:
        found = await gauge(pipeline, name)
    except aiohttp.ClientError:
        return False
    return found == value
