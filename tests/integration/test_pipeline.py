"""The real worker on real Apache Kafka: journeys scored, bad input dead-lettered, duplicates once."""

from __future__ import annotations

import base64

import orjson
import pytest
import pytest_asyncio

from streams.contracts.partitioning import partition_for
from tests.contracts import assert_matches_contract
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, answers, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("pipeline"))
    yield running
    await stop_pipeline(running)


def transitions(changes: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(c["from_stage"], c["to_stage"], c["from_temperature"], c["to_temperature"]) for c in changes]


async def test_a_scripted_journey_produces_exactly_the_expected_qualification_changes(pipeline: RunningPipeline):
    lead = "journey-1"
    await pipeline.send_all([
        identify(lead, "j1-1", "dana@acme.io", minutes=0),        # fits the ICP: IQL
        page(lead, "j1-2", "/blog/intent", minutes=1),              # interest 2
        track(lead, "j1-3", "Case Study Downloaded", minutes=2),   # 12
        track(lead, "j1-4", "Webinar Attended", minutes=3),        # 32: MQL, warm
        page(lead, "j1-5", "/pricing", minutes=4),                  # intent 10
        track(lead, "j1-6", "Demo Requested", minutes=5),          # intent 40: still warm, criteria unknown
        answers(lead, "j1-7", minutes=6, need="yes", authority="yes"),
        answers(lead, "j1-8", minutes=7, budget="yes", timeline="this quarter"),  # every BANT criterion met: SQL, hot
        page(lead, "j1-9", "/pricing/enterprise", minutes=8),      # no change
    ])
    # Exactly three, read once the worker committed all nine events: the last page view changed nothing.
    changes = await pipeline.changes_for(lead, count=3)

    assert transitions(changes) == [
        ("new", "iql", "cold", "cold"),
        ("iql", "mql", "cold", "warm"),
        ("mql", "sql", "warm", "hot"),
    ]
    assert [c["sequence"] for c in changes] == [1, 2, 3]
    assert [c["cause"]["event_id"] for c in changes] == ["j1-1", "j1-4", "j1-8"]
    hot = changes[-1]
    assert hot["account"] == "acme.io"
    assert hot["score"]["intent"] == pytest.approx(40.0, abs=0.05)  # pricing 10 + demo 30, barely decayed
    assert hot["score"]["fit"] == 100
    assert hot["criteria"] == {"budget": "met", "authority": "met", "need": "met", "timeline": "met"}
    assert [r["signal"] for r in hot["reasons"]] == ["demo_request", "webinar_attended", "case_study_download"]
    for change in changes:
        assert_matches_contract("leads.qualification", change)
    accounting = await pipeline.settled_accounting()
    assert accounting["balanced"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"type": "page", "messageId": "broken', "malformed_json"),
        (orjson.dumps({"type": "purchase", "messageId": "u-1", "userId": "dlq-lead"}), "unknown_type"),
        (orjson.dumps({"type": "page", "messageId": "n-1", "properties": {"path": "/pricing"}}), "missing_identity"),
        (orjson.dumps({"type": "track", "messageId": "o-1", "userId": "dlq-lead", "event": "Demo Requested",
                       "properties": {"blob": "x" * 40_000}}), "oversized"),
        (b"\xff\xfe not utf-8 at all", "malformed_json"),
    ],
    ids=["malformed-json", "unknown-type", "no-identity", "oversized", "not-utf8"],
)
async def test_bad_input_lands_in_the_dead_letter_topic_with_its_reason_and_original_bytes(
    pipeline: RunningPipeline, raw: bytes, reason: str
):
    await pipeline.send(raw, key=b"dlq-key")

    def has_it(records: list[dict]) -> bool:
        return any(base64.b64decode(r["value_base64"]) == raw for r in records)

    records = await pipeline.recorder.wait_for(pipeline.topic("leads.events.dlq"), has_it)
    letter = next(r for r in records if base64.b64decode(r["value_base64"]) == raw)
    assert letter["reason"] == reason
    assert base64.b64decode(letter["key_base64"]) == b"dlq-key"
    assert letter["source"]["topic"] == pipeline.topic("leads.events.raw")
    assert_matches_contract("leads.events.dlq", letter)


async def test_the_worker_keeps_scoring_after_bad_input(pipeline: RunningPipeline):
    await pipeline.send(b"\x00garbage", key=b"poison")
    await pipeline.send_all([identify("after-poison", "ap-1", "lee@initech.com"),
                             track("after-poison", "ap-2", "Demo Requested", minutes=1)])
    changes = await pipeline.changes_for("after-poison", count=2)
    # Intent alone warms a lead up; without interest it is not yet an MQL.
    assert transitions(changes)[-1] == ("iql", "iql", "cold", "warm")


async def test_a_duplicated_event_is_counted_once_even_after_fifty_other_events(pipeline: RunningPipeline):
    lead = "dup-lead"
    before = await pipeline.settled_accounting()
    await pipeline.send(identify(lead, "dup-id", "sam@globex.com", minutes=0))
    webinar = track(lead, "dup-webinar", "Webinar Attended", minutes=1)  # interest 20: not yet MQL (25)
    await pipeline.send(webinar)
    await pipeline.send(webinar)  # an immediate redelivery
    # Careers pages are worth nothing: only a counted duplicate webinar (40) could make the lead an MQL.
    await pipeline.send_all(page(lead, f"dup-career-{i}", "/careers", minutes=2 + i) for i in range(50))
    await pipeline.send(webinar)  # the same event again, 51 events later
    after = await pipeline.settled_accounting()

    assert after["deduplicated"] - before["deduplicated"] == 2
    assert after["scored"] - before["scored"] == 52
    changes = await pipeline.changes_for(lead, count=1)  # exactly one, once all 54 are committed
    assert transitions(changes) == [("new", "iql", "cold", "cold")]


async def test_an_anonymous_visitor_is_held_not_scored_as_a_lead_of_its_own(pipeline: RunningPipeline):
    # Keyed by something else than the visitor id: repartitioned to the visitor's partition.
    visitor = next(v for v in (f"visitor-{n}" for n in range(100))
                   if partition_for(v.encode(), TEST_PARTITIONS) != partition_for(b"elsewhere", TEST_PARTITIONS))
    before = await pipeline.settled_accounting()
    paths = ["/product", "/product/integrations", "/pricing", "/pricing/enterprise", "/pricing"]
    for index, path in enumerate(paths):
        await pipeline.send({"type": "page", "messageId": f"anon-{index}", "anonymousId": visitor,
                             "properties": {"path": path}, "timestamp": f"2026-11-02T09:0{index}:00+00:00"},
                            key=b"elsewhere")
    after = await pipeline.settled_accounting()

    assert after["held"] - before["held"] == len(paths)
    assert after["scored"] == before["scored"]
    status, held = await pipeline.lead(visitor)  # not a lead: the API says what waits for it
    assert status == 200 and (held["anonymous"], held["status"], held["held_events"]) == (True, "held", len(paths))
    forwarded = await pipeline.recorder.wait_for(
        pipeline.topic("leads.signals"),
        lambda records: {f"anon-{i}" for i in range(len(paths))} <= {s.get("event_id") for s in records})
    for signal in forwarded:
        assert_matches_contract("leads.signals", signal)


async def test_ignored_events_are_counted_by_reason_and_the_accounting_adds_up(pipeline: RunningPipeline):
    before = await pipeline.settled_accounting()
    await pipeline.send_all([
        track("ign-lead", "ign-1", "Button Clicked"),
        track("ign-lead", "ign-2", "Deal Won"),
        {**page("ign-lead", "ign-3", "/pricing"), "context": {"userAgent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}},
        {**page("ign-lead", "ign-4", "/pricing"), "context": {"dnt": True}},
    ])
    after = await pipeline.settled_accounting()

    delta = {reason: after["ignored_by_reason"].get(reason, 0) - before["ignored_by_reason"].get(reason, 0)
             for reason in ("unmapped_event", "outcome_only", "bot", "no_consent")}
    assert delta == {"unmapped_event": 1, "outcome_only": 1, "bot": 1, "no_consent": 1}
    assert after["received"] == pipeline.sent
    assert after["received"] == (after["scored"] + after["ignored"] + after["deduplicated"]
                                 + after["dead_lettered"] + after["held"])


async def test_a_tracks_content_properties_leave_the_persons_profile_and_fit_unchanged(pipeline: RunningPipeline):
    lead = "content-1"
    case_study = {**track(lead, "cs-2", "Case Study Downloaded", minutes=1),
                  "properties": {"title": "How Acme doubled SQLs", "company": "Acme", "industry": "Retail",
                                 "employees": 3, "country": "KP"}}
    await pipeline.send_all([identify(lead, "cs-1", "dana@initech.io", minutes=0), case_study,
                             page(lead, "cs-3", "/blog/intent", minutes=2)])
    await pipeline.settled_accounting()

    status, document = await pipeline.lead(lead)

    assert status == 200
    assert document["profile"]["title"] == "VP Marketing"
    assert "company" not in document["profile"]
    assert (document["profile"]["industry"], document["profile"]["country"]) == ("software", "US")
    assert document["score"]["fit"] == 100
    assert not document["disqualified_by"]  # neither the case study's 3 employees nor its country
    assert {c["signal"] for c in document["contributions"]} == {"case_study_download", "blog_view"}
