"""The qualification model through the real app on Apache Kafka (the model issue's journeys)."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from tests.integration.pipeline_harness import (
    RunningPipeline, answers, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
SHIPPED_MODEL = Path(__file__).parents[2] / "scoring" / "default_model.toml"
MEDDIC = ["metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bant(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("bant"))
    yield running
    await stop_pipeline(running)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def meddic(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    """A worker whose model file is the shipped one switched to MEDDIC."""
    folder = tmp_path_factory.mktemp("meddic")
    model = folder / "meddic.toml"
    text = SHIPPED_MODEL.read_text()
    assert 'framework = "bant"' in text
    model.write_text(text.replace('framework = "bant"', 'framework = "meddic"')
                     .replace('version = "default-3"', 'version = "meddic-test"'))
    running = await start_pipeline(kafka_bootstrap, folder, env={"LEADSTREAM_MODEL": str(model)})
    yield running
    await stop_pipeline(running)


def bant_confirmed_journey(lead: str) -> list[dict]:
    """Content, pricing and a demo request, then answers that confirm every BANT criterion."""
    return [
        identify(lead, f"{lead}-1", f"{lead}@acme.io", 0),
        track(lead, f"{lead}-2", "Case Study Downloaded", 1),
        page(lead, f"{lead}-3", "/product", 2),
        track(lead, f"{lead}-4", "Webinar Attended", 3),  # interest 35: MQL and warm at once
        page(lead, f"{lead}-5", "/pricing", 4),
        track(lead, f"{lead}-6", "Demo Requested", 5),
        answers(lead, f"{lead}-7", 6, need="yes", authority="yes"),
        answers(lead, f"{lead}-8", 7, budget="yes", timeline="this quarter"),
    ]


def stages(changes: list[dict]) -> list[tuple[str, str]]:
    return [(c["to_stage"], c["to_temperature"]) for c in changes]


async def settle(pipeline: RunningPipeline, lead: str, expected: int) -> list[dict]:
    """The lead's changes, exactly ``expected`` once the worker committed every sent event."""
    await pipeline.settled_accounting()
    return await pipeline.changes_for(lead, count=expected)


async def test_a_lead_that_reads_content_but_never_shows_intent_stops_at_mql(bant: RunningPipeline):
    lead = "reader"
    content = ["Case Study Downloaded", "Webinar Attended", "Whitepaper Downloaded", "Webinar Registered"]
    await bant.send(identify(lead, "r-0", "reader@globex.com", 0))
    await bant.send_all(track(lead, f"r-{i}", content[i % 4], 1 + i) for i in range(1, 25))
    await bant.send_all(page(lead, f"r-blog-{i}", "/blog/post", 30 + i) for i in range(50))

    changes = await settle(bant, lead, expected=3)
    # Webinar then whitepaper reach the MQL rung (25) before engagement reaches warm (30).
    assert stages(changes) == [("iql", "cold"), ("mql", "cold"), ("mql", "warm")]
    assert changes[-1]["score"]["intent"] == 0


async def test_intent_with_unknown_budget_and_timeline_is_warm_until_answers_confirm_them(bant: RunningPipeline):
    lead = "evaluator"
    journey = bant_confirmed_journey(lead)
    await bant.send_all(journey[:-1])  # everything but the budget and timeline answers
    before_answers = await settle(bant, lead, expected=2)
    assert stages(before_answers) == [("iql", "cold"), ("mql", "warm")]
    assert before_answers[-1]["criteria"]["budget"] == "unknown"

    await bant.send(journey[-1])
    changes = await settle(bant, lead, expected=3)
    assert stages(changes)[-1] == ("sql", "hot")
    assert changes[-1]["criteria"] == {"budget": "met", "authority": "met", "need": "met", "timeline": "met"}
    assert changes[-1]["framework"] == "bant"


async def test_a_competitor_domain_lead_is_disqualified_whatever_it_does(bant: RunningPipeline):
    lead = "spy"
    journey = bant_confirmed_journey(lead)
    journey[0] = identify(lead, "spy-1", "analyst@rivalscore.com", 0)
    await bant.send_all([*journey, track(lead, "spy-9", "Trial Started", 8), track(lead, "spy-10", "Feature Used", 9)])

    changes = await settle(bant, lead, expected=1)
    assert stages(changes) == [("disqualified", "cold")]
    assert changes[0]["disqualified_by"] == ["competitor"]


async def test_under_meddic_the_bant_confirmed_lead_lists_meddic_criteria_and_is_not_sql(
    bant: RunningPipeline, meddic: RunningPipeline
):
    lead = "switcher"
    journey = bant_confirmed_journey(lead)
    await bant.send_all(journey)
    await meddic.send_all(journey)

    under_bant = await settle(bant, lead, expected=3)
    under_meddic = await settle(meddic, lead, expected=2)
    assert stages(under_bant)[-1] == ("sql", "hot")
    assert stages(under_meddic) == [("iql", "cold"), ("mql", "warm")]
    last = under_meddic[-1]
    assert last["framework"] == "meddic"
    assert list(last["criteria"]) == MEDDIC
    assert set(last["criteria"].values()) == {"unknown"}
    assert last["model_version"] == "meddic-test"
