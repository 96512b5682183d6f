"""Buying committees: leads roll up by company domain across partitions and workers."""

from __future__ import annotations


import orjson
import pytest
import pytest_asyncio

from streams.contracts.partitioning import partition_for
from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
TITLES = ("VP Marketing", "Marketing Manager", "Data Analyst")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def committee(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("accounts"), workers=2)
    yield running
    await stop_pipeline(running)


def engaged_not_hot(lead: str, email: str, title: str, start: float) -> list[dict]:
    """Content and a pricing page: warm (engagement 45), never hot (no criteria answered)."""
    return [
        identify(lead, f"{lead}-1", email, start, title=title),
        track(lead, f"{lead}-2", "Case Study Downloaded", start + 1),
        page(lead, f"{lead}-3", "/product", start + 2),
        track(lead, f"{lead}-4", "Webinar Attended", start + 3),
        page(lead, f"{lead}-5", "/pricing", start + 4),
    ]


def account_changes(pipeline: RunningPipeline, domain: str) -> list[dict]:
    return [orjson.loads(v) for _, v in pipeline.recorder.records[pipeline.topic("accounts.qualification")]
            if orjson.loads(v)["account"] == domain]


async def test_three_people_engaging_together_turn_their_account_hot_before_any_one_is_hot(
    committee: RunningPipeline,
):
    # Three people of one company whose leads sit on three different partitions.
    leads, partitions = [], set()
    for n in range(100):
        lead = f"globex-person-{n}"
        partition = partition_for(lead.encode(), TEST_PARTITIONS)
        if partition not in partitions:
            leads.append(lead)
            partitions.add(partition)
        if len(leads) == 3:
            break
    for index, (lead, title) in enumerate(zip(leads, TITLES)):
        await committee.send_all(engaged_not_hot(lead, f"{lead}@globex.io", title, start=index * 10))

    records = await committee.recorder.wait_for(
        committee.topic("accounts.qualification"),
        lambda rs: any(r["account"] == "globex.io" and r["to_temperature"] == "hot" for r in rs))
    hot = next(r for r in records if r["account"] == "globex.io" and r["to_temperature"] == "hot")
    assert hot["engaged_people"] == 3
    assert sorted(hot["engaged_leads"]) == sorted(leads)
    assert set(hot["roles"]) == {"decision_maker", "influencer", "user"}
    assert_matches_contract("accounts.qualification", hot)
    for lead in leads:
        changes = await committee.changes_for(lead, count=2)
        assert all(change["to_temperature"] != "hot" for change in changes), lead
    # Warm first (one or two people), then hot with the third.
    assert [r["to_temperature"] for r in account_changes(committee, "globex.io")] == ["warm", "hot"]
    records = [orjson.loads(v) for _, v in committee.recorder.records[committee.topic("accounts.members")]]
    for record in records[:20]:
        assert_matches_contract("accounts.members", record)


async def test_a_personal_email_lead_never_forms_an_account(committee: RunningPipeline):
    await committee.send_all(engaged_not_hot("gmail-person", "someone@gmail.com", "VP Marketing", start=0))
    # Exactly its own two (IQL, then MQL and warm), once everything the worker wrote has been read.
    changes = await committee.changes_for("gmail-person", count=2)
    assert [(c["to_stage"], c["to_temperature"]) for c in changes] == [("iql", "cold"), ("mql", "warm")]
    records = [orjson.loads(v) for _, v in committee.recorder.records[committee.topic("accounts.members")]]
    assert not [r for r in records if r["domain"] == "gmail.com"]
    assert not account_changes(committee, "gmail.com")
