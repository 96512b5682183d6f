"""LEADSTREAM_CONSENT=opt-in on Apache Kafka: nothing about a visitor is kept before a yes, and all of it after.

A worker and a collector both run opt-in. Before consent, a visitor's page views, its identify
and a demo request reach the stack two ways, through the collector and straight onto the raw topic
(another producer): the collector produces none of its share (counted consent_refused), the
worker ignores the rest (no_consent), and no table or topic past the raw one holds a record of
them. The same journey with the yes is kept, scored and linked as usual.
"""

from __future__ import annotations

import aiohttp
import pytest
import pytest_asyncio

from streams.devtools.processes import CollectorProcess
from tests.integration.pipeline_harness import (
    RunningPipeline, TopicRecorder, identify_visitor, start_collector, start_pipeline, stop_pipeline, track, visit,
)

pytestmark = [pytest.mark.kafka, pytest.mark.security, pytest.mark.asyncio(loop_scope="session")]
OPT_IN = {"LEADSTREAM_CONSENT": "opt-in"}
PAST_RAW = ("leads.signals", "leads.qualification", "leads.events.dlq", "accounts.members",
            "accounts.qualification", "leads.feedback")
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("consent")
    pipeline = await start_pipeline(kafka_bootstrap, log_dir, env=OPT_IN)
    collector = await start_collector(pipeline, log_dir, env=OPT_IN)
    raw = TopicRecorder(kafka_bootstrap, (pipeline.topic("leads.events.raw"),))
    await raw.start()
    yield pipeline, collector, raw
    await raw.stop()
    collector.stop()
    await stop_pipeline(pipeline)


def journey(lead: str, visitor: str, email: str, consent: dict | None) -> list[dict]:
    events = [visit(visitor, f"{visitor}-1", "/pricing", 0), visit(visitor, f"{visitor}-2", "/pricing/teams", 1),
              identify_visitor(lead, visitor, f"{visitor}-3", email, 2), track(lead, f"{visitor}-4", "Demo Requested", 3)]
    for event in events:
        event["context"] = {**event.get("context", {}), **(consent or {}), "userAgent": CHROME}
    return events


def mentions(records: list[tuple[bytes | None, bytes]], *needles: str) -> list[bytes]:
    return [value or b"" for key, value in records
            if any(needle.encode() in (key or b"") + (value or b"") for needle in needles)]


async def collector_batch(collector: CollectorProcess, events: list[dict]) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.post(collector.url + "/v1/batch", json={"batch": events}) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def pixel_cookie(collector: CollectorProcess, query: str) -> str | None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{collector.url}/p.gif?{query}", headers={"User-Agent": CHROME}) as response:
            assert response.status == 200
            cookie = response.cookies.get("ls_vid")
            return cookie.value if cookie is not None else None


async def test_before_consent_nothing_is_stored_past_the_raw_topic_and_after_it_everything_is(stack):
    pipeline: RunningPipeline
    pipeline, collector, raw = stack
    before = await pipeline.settled_accounting()

    # Without a yes: half through the collector, half straight onto the raw topic.
    via_collector = journey("optin-lead-a", "optin-visitor-a", "ana@optin.example", None)
    answer = await collector_batch(collector, via_collector)
    assert (answer["accepted"], answer["consent_refused"]) == (0, 4)
    assert await pixel_cookie(collector, "aid=optin-visitor-a&url=https://www.example.com/pricing") is None
    await pipeline.send_all(journey("optin-lead-b", "optin-visitor-b", "bo@optin.example", None))

    refused = await pipeline.settled_accounting()
    assert refused["ignored_by_reason"].get("no_consent", 0) - before["ignored_by_reason"].get("no_consent", 0) == 4
    assert refused["scored"] == before["scored"] and refused["held"] == before["held"]
    _, collected = await collector.get_json("/accounting")
    assert (collected["accepted"], collected["consent_refused"], collected["balanced"]) == (0, 5, True)
    await pipeline.committed_everything()
    await pipeline.recorder.read_to_end()
    await raw.read_to_end()
    nobody = ("optin-lead-a", "optin-visitor-a", "ana@optin", "optin-lead-b", "optin-visitor-b", "bo@optin")
    assert mentions(raw.records[pipeline.topic("leads.events.raw")], *nobody[:3]) == []  # the collector sent none
    assert len(mentions(raw.records[pipeline.topic("leads.events.raw")], *nobody[3:])) == 4  # the other producer's
    for topic in PAST_RAW:
        assert mentions(pipeline.recorder.records[pipeline.topic(topic)], *nobody) == [], topic
    for lead in ("optin-lead-a", "optin-lead-b", "optin-visitor-b", "ana@optin.example", "bo@optin.example"):
        assert (await pipeline.lead(lead))[0] == 404, lead

    # The same journeys with the yes: Segment's category preference through the collector,
    # context.consent straight onto the raw topic.
    granted = {"consent": {"categoryPreferences": {"Analytics": True}}}
    answer = await collector_batch(collector, journey("optin-lead-a", "optin-visitor-a", "ana@optin.example", granted))
    assert (answer["accepted"], answer.get("consent_refused", 0)) == (4, 0)
    assert await pixel_cookie(collector, "consent=true&url=https://www.example.com/") is not None
    await pipeline.send_all(journey("optin-lead-b", "optin-visitor-b", "bo@optin.example", {"consent": True}))

    for lead, email in (("optin-lead-a", "ana@optin.example"), ("optin-lead-b", "bo@optin.example")):
        document = await pipeline.lead_when(lead, lambda d: {c["signal"] for c in d["contributions"]}
                                            >= {"pricing_view", "demo_request"})
        assert document["profile"]["email"] == email
