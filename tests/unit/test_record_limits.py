"""Bounded records: account updates split under the byte budget, ids held to their documented limits."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from scoring.accounts import Member
from streams.config.environment import settings_from
from streams.contracts import account_records, command_records
from streams.contracts.segment import MAX_ID_CHARS, MAX_NAME_CHARS, RejectReason, Rejection, decode_segment
from streams.errors import ConfigError
from streams.worker.context import in_memory_context
from tests.unit.builders import model
from tests.unit.pipeline_builders import NOW, PARTITIONS, RecordingOutbox, Topology, identify, page, track

DOMAIN = "a-rather-long-company-name.example.com"


def member(n: int) -> tuple[str, Member | None]:
    lead = f"lead-{n}".ljust(MAX_ID_CHARS, "x")
    if n % 5 == 0:
        return lead, None  # left the account
    return lead, Member(lead_id=lead, interest=1.5 * n, intent=2.0, as_of=1_790_000_000.0 + n, role="user",
                        criteria_met=frozenset({"need"}), cause_event_id=f"event-{n}")


def test_member_updates_split_under_the_budget_keep_every_update_in_order():
    updates = [member(n) for n in range(400)]
    records = account_records.encode_member_updates_within(DOMAIN, updates, 16 * 1024)

    assert len(records) > 1 and all(len(record) <= 16 * 1024 for record in records)
    decoded = [account_records.decode_member_updates(record) for record in records]
    assert {domain for domain, _ in decoded} == {DOMAIN}
    assert [update for _, part in decoded for update in part] == updates


def test_member_updates_under_the_budget_are_the_one_record_they_always_were():
    updates = [member(n) for n in range(3)]
    assert account_records.encode_member_updates_within(DOMAIN, updates, 16 * 1024) == [
        account_records.encode_member_updates(DOMAIN, updates)]


def budgeted_topology(max_record_bytes: int) -> Topology:
    env = {"LEADSTREAM_PARTITIONS": str(PARTITIONS), "LEADSTREAM_CLOCK": f"fixed:{NOW.isoformat()}",
           "LEADSTREAM_MAX_RECORD_BYTES": str(max_record_bytes)}
    chosen = model()
    return Topology(in_memory_context(settings_from(env), model=lambda: chosen, outbox=RecordingOutbox(),
                                      wall_clock=NOW.timestamp))


def test_a_burst_of_leads_at_one_account_sends_records_within_the_budget_and_the_account_hears_every_one():
    topology = budgeted_topology(16 * 1024)
    leads = [f"burst-{n}".ljust(MAX_ID_CHARS, "x") for n in range(120)]
    asyncio.run(topology.send(*(identify(lead, f"b-{n}", f"p{n}@{DOMAIN}") for n, lead in enumerate(leads))))

    updates = topology.on(topology.context.topics.account_members)
    assert len(updates) > 1 and all(len(value or b"") <= 16 * 1024 for _, value in updates)
    named = {body["lead_id"] for _, value in updates for body in orjson.loads(value or b"{}")["members"]}
    assert named == set(leads)
    account = account_records.decode_account(DOMAIN, topology.context.accounts.data[DOMAIN.encode()])
    assert len(account.members) == min(len(leads), model().accounts.max_members)


@pytest.mark.parametrize("field", ["userId", "anonymousId", "messageId"])
def test_an_id_over_its_limit_is_refused_at_the_edge_naming_the_field_and_the_limit(field: str):
    event = {**page("lead-1", "e-1", "/pricing"), field: "x" * (MAX_ID_CHARS + 1)}
    decoded = decode_segment(orjson.dumps(event), NOW.timestamp(), 32 * 1024)
    assert isinstance(decoded, Rejection) and decoded.reason is RejectReason.INVALID_FIELD
    assert field in decoded.detail and str(MAX_ID_CHARS) in decoded.detail


def test_an_event_name_over_its_limit_is_refused_at_the_edge():
    decoded = decode_segment(orjson.dumps(track("lead-1", "e-1", "D" * (MAX_NAME_CHARS + 1))), NOW.timestamp(),
                             32 * 1024)
    assert isinstance(decoded, Rejection) and decoded.reason is RejectReason.INVALID_FIELD
    assert "event" in decoded.detail and str(MAX_NAME_CHARS) in decoded.detail


def test_a_command_with_an_over_long_id_from_another_producer_is_dead_lettered_not_run():
    topology = Topology()
    lead = "y" * (MAX_ID_CHARS + 1)
    erase = command_records.encode_command(command_records.ERASE, lead, NOW.timestamp())

    asyncio.run(topology.command(lead.encode()[:10], erase))

    [(_, letter)] = topology.on(topology.context.topics.dead_letters)
    assert orjson.loads(letter or b"{}")["reason"] == "invalid_field"
    assert not topology.context.erasures.data


@pytest.mark.parametrize("value", ["1000", "2000000"])
def test_the_record_budget_must_stay_under_the_brokers_limit(value: str):
    with pytest.raises(ConfigError, match="LEADSTREAM_MAX_RECORD_BYTES"):
        settings_from({"LEADSTREAM_MAX_RECORD_BYTES": value})
