"""The worker's timers through the in-memory pipeline: revisits due on the lead timer, accounts cooling on theirs.

``pipeline.send_due`` is one tick of the worker's timer (streams/worker/timers.py): it sends the
commands, and ``Topology`` hands them to the partitions' batches as the brokers would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from streams.alerting.change import decode_change
from streams.alerting.errors import UnreadableChange
from streams.contracts import command_records
from streams.contracts.encoding import iso_time
from streams.worker import pipeline
from streams.worker.context import in_memory_context
from tests.contracts import assert_matches_contract
from tests.unit.pipeline_builders import (
    NOW, PARTITIONS, START, MovableClock, Topology, identify, page, track, worker_context,
)

DAY_S = 86_400.0
INTERVAL_S = 90 * DAY_S  # the shipped model's [revisit] after_days


def run(step: Any) -> Any:
    return asyncio.run(step())


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def revisits(topology: Topology, lead: str) -> list[dict[str, Any]]:
    found = [orjson.loads(value) for _, value in topology.on(topology.context.topics.qualification) if value]
    return [r for r in found if r.get("kind") == "revisit_due" and r["lead_id"] == lead]


async def tick(topology: Topology) -> None:
    """One tick of the worker's demotion timer, and whatever it set going."""
    await pipeline.send_due(topology.context)
    await topology.settle()


def test_a_quiet_good_fit_lead_comes_due_on_the_lead_timer_once_and_waits_on_the_queue():
    clock = MovableClock(NOW.timestamp())
    topology = Topology(worker_context(clock=clock))
    run(lambda: topology.send(identify("cleo", "cleo-1", "cleo@acme.io")))  # fit 100, IQL, cold
    counted_before = counted("leadstream_revisits_due_total", reason="cold")
    identified_at = START.timestamp()
    assert topology.context.due_index.due_at(b"cleo") == identified_at + INTERVAL_S  # the lead timer holds it

    clock.at = identified_at + INTERVAL_S - 1
    run(lambda: tick(topology))
    assert revisits(topology, "cleo") == []  # not before its time
    clock.at = identified_at + INTERVAL_S + 5 * 60
    for _ in range(3):  # ticks go on: the revisit fires once
        run(lambda: tick(topology))

    [due] = revisits(topology, "cleo")
    assert_matches_contract("leads.qualification", due)
    assert due["revisit"] == {"reason": "cold", "due_at": due["event_time"]}
    assert due["cause"]["type"] == "revisit" and due["cause"]["crossing_time"] == due["event_time"]
    assert (due["from_stage"], due["to_stage"]) == ("iql", "iql") and due["sequence"] == 2
    assert counted("leadstream_revisits_due_total", reason="cold") == counted_before + 1
    assert topology.context.revisit_queue.longest_waiting(10) == [(b"cleo", identified_at + INTERVAL_S)]
    # The next look is due an interval later, on the same timer.
    assert topology.context.due_index.due_at(b"cleo") == identified_at + 2 * INTERVAL_S

    # Sales takes the look and sends it back to nurturing: off the queue, due again an interval on.
    verdict = command_records.encode_command(command_records.FEEDBACK, "cleo", clock.now(), feedback_id="fb-1",
                                             verdict="recycle", reason=None, by=None)
    run(lambda: topology.command(b"cleo", verdict))
    assert len(topology.context.revisit_queue) == 0
    assert topology.context.due_index.due_at(b"cleo") == clock.now() + INTERVAL_S


def revisited(lead: str) -> tuple[Topology, MovableClock, dict[str, Any]]:
    """A good-fit lead identified at the start, a tick of a worker standing just past its first revisit."""
    clock = MovableClock(START.timestamp() + INTERVAL_S + 60)
    topology = Topology(worker_context(clock=clock))
    run(lambda: topology.send(identify(lead, f"{lead}-1", f"{lead}@acme.io")))
    run(lambda: tick(topology))
    [made] = revisits(topology, lead)
    return topology, clock, made


def test_a_redelivered_or_repeated_timer_command_makes_no_second_revisit():
    topology, clock, first = revisited("remy")
    due = topology.stored("remy").revisited_at
    command = command_records.encode_command(command_records.DECAY, "remy", clock.now(), due=due)

    run(lambda: topology.command(b"remy", command))  # the timer's command, delivered again after a crash

    again = revisits(topology, "remy")
    assert len(again) == 2 and again[1]["change_id"] == first["change_id"]  # re-sent under its id, not a new one
    assert topology.stored("remy").sequence == first["sequence"]


def test_after_a_restart_the_rebuilt_timer_does_not_revisit_again():
    topology, clock, _ = revisited("rita")

    # A new worker recovers the same tables: its indexes are rebuilt from them.
    restarted = worker_context(clock=clock)
    restarted.leads.data.update(topology.context.leads.data)
    restarted.accounts.data.update(topology.context.accounts.data)
    after = Topology(restarted)
    asyncio.run(pipeline.recount_leads(restarted, set(range(PARTITIONS))))
    for _ in range(2):
        run(lambda: tick(after))
    assert revisits(after, "rita") == []
    assert after.context.revisit_queue.longest_waiting(5) == [(b"rita", START.timestamp() + INTERVAL_S)]
    assert after.context.due_index.due_at(b"rita") == START.timestamp() + 2 * INTERVAL_S


def committee(company: str) -> list[dict[str, Any]]:
    """Three people of one company engaging within minutes: the account turns hot, no one person is."""
    events = []
    for n, title in enumerate(("VP Marketing", "Marketing Manager", "Data Analyst")):
        lead = f"{company}-person-{n}"
        events += [identify(lead, f"{lead}-1", f"{lead}@{company}.io", minutes=n * 10, title=title),
                   track(lead, f"{lead}-2", "Case Study Downloaded", minutes=n * 10 + 1),
                   page(lead, f"{lead}-3", "/product", minutes=n * 10 + 2),
                   track(lead, f"{lead}-4", "Webinar Attended", minutes=n * 10 + 3),
                   page(lead, f"{lead}-5", "/pricing", minutes=n * 10 + 4)]
    return events


def account_changes(topology: Topology, domain: str) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _, v in topology.on(topology.context.topics.account_qualification)
            if orjson.loads(v)["account"] == domain]


def test_a_silent_committees_account_cools_on_the_timer_one_rung_at_a_time():
    clock = MovableClock(NOW.timestamp())
    topology = Topology(worker_context(clock=clock))
    run(lambda: topology.send(*committee("globex")))
    assert [c["to_temperature"] for c in account_changes(topology, "globex.io")] == ["warm", "hot"]
    first_due = topology.context.account_due_index.due_at("globex.io")
    assert first_due is not None and first_due > clock.now()

    clock.at = (START + timedelta(days=200)).timestamp()  # nobody speaks for months
    for _ in range(5):
        run(lambda: tick(topology))

    cooled = account_changes(topology, "globex.io")[2:]
    assert [(c["from_temperature"], c["to_temperature"]) for c in cooled] == [("hot", "warm"), ("warm", "cold")]
    assert cooled[0]["event_time"] == iso_time(first_due) and cooled[0]["cause_lead_id"] == "decay"
    for change in cooled:
        assert_matches_contract("accounts.qualification", change)
    # The timer asked on the account's own key, so its partition's batch cooled it in order with its members.
    cooling = [(k, orjson.loads(v)) for k, v in topology.on(topology.context.topics.account_members)
               if b"cool_at" in (v or b"")]
    assert cooling and {k for k, _ in cooling} == {b"globex.io"}
    for _, record in cooling:
        assert_matches_contract("accounts.members", record)
    assert topology.context.account_due_index.due_at("globex.io") is None  # cold: nothing left to fire

    # A recovered worker finds the same: the cold account has no timer, a hot one would.
    restarted = in_memory_context(topology.context.settings, topology.context.model, clock=clock)
    restarted.accounts.data.update(topology.context.accounts.data)
    pipeline.recount_accounts(restarted, set(range(PARTITIONS)))
    assert len(restarted.account_due_index) == 0


def test_a_recovered_worker_cools_an_account_that_fell_due_while_no_one_owned_it():
    clock = MovableClock(NOW.timestamp())
    topology = Topology(worker_context(clock=clock))
    run(lambda: topology.send(*committee("initech")))
    restarted = worker_context(clock=clock)
    restarted.accounts.data.update(topology.context.accounts.data)
    after = Topology(restarted)
    pipeline.recount_accounts(restarted, set(range(PARTITIONS)))
    clock.at = (START + timedelta(days=200)).timestamp()
    for _ in range(3):
        run(lambda: tick(after))
    assert [c["to_temperature"] for c in account_changes(after, "initech.io")] == ["warm", "cold"]


def test_the_contracts_tell_a_revisit_and_a_timer_request_from_what_they_are_not():
    topology, _, due = revisited("tess")
    [change] = topology.changes("tess")
    for broken in ({**due, "kind": "qualification_change"}, {k: v for k, v in due.items() if k != "revisit"},
                   {**change, "revisit": due["revisit"]}):
        with pytest.raises(AssertionError, match="breaks its contract"):
            assert_matches_contract("leads.qualification", broken)
    with pytest.raises(AssertionError, match="breaks its contract"):
        assert_matches_contract("accounts.members", {"domain": "acme.io", "members": []})
    # leadstream alerts reads the same topic: a revisit is not a promotion, and not unreadable either.
    with pytest.raises(UnreadableChange) as raised:
        decode_change(orjson.dumps(due))
    assert raised.value.reason == "wrong_kind"  # counted as not alerting, never skipped as unreadable
