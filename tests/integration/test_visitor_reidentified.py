"""A visitor identified as one lead and later as another follows the latest identify (docs/design.md §6).

scoring/visitors.py `link`: the held history goes, once, to the first lead; a second identify as
someone else (a shared computer) finds nothing held, so the first lead keeps what it got, and
the visitor's later anonymous events go to the second lead only.
"""

from __future__ import annotations

import pytest
import pytest_asyncio

from streams.contracts.partitioning import partition_for
from tests.integration.pipeline_harness import (
    TEST_PARTITIONS, RunningPipeline, identify_visitor, start_pipeline, stop_pipeline, visit,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
FIRST, SECOND = "shared-desk-ana", "shared-desk-bo"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("reidentified"))
    yield running
    await stop_pipeline(running)


def visitor_apart_from(*leads: str) -> str:
    """A visitor id on a partition neither lead is on: every step of the stitching crosses partitions."""
    taken = {partition_for(lead.encode(), TEST_PARTITIONS) for lead in leads}
    return next(v for v in (f"shared-desk-visitor-{n}" for n in range(100))
                if partition_for(v.encode(), TEST_PARTITIONS) not in taken)


def signal_counts(document: dict) -> dict[str, int]:
    return {c["signal"]: c["count"] for c in document["contributions"]}


async def test_a_visitor_identified_as_someone_else_follows_the_latest_identify(pipeline: RunningPipeline):
    visitor = visitor_apart_from(FIRST, SECOND)
    before = await pipeline.settled_accounting()
    await pipeline.send_all([visit(visitor, "desk-1", "/pricing", 0), visit(visitor, "desk-2", "/pricing/teams", 1)])
    await pipeline.send(identify_visitor(FIRST, visitor, "desk-id-ana", "ana@acme.io", 2))
    first = await pipeline.lead_when(FIRST, lambda d: signal_counts(d).get("pricing_view") == 2)
    assert signal_counts(first) == {"pricing_view": 2}

    # Keyed by the visitor (as a tracker keying by anonymousId does): the link is made on the
    # visitor's partition in order with the visit that follows, so the visit comes after the link.
    await pipeline.send(identify_visitor(SECOND, visitor, "desk-id-bo", "bo@globex.com", 3), key=visitor)
    await pipeline.send(visit(visitor, "desk-3", "/product", 4))
    second = await pipeline.lead_when(SECOND, lambda d: "product_view" in signal_counts(d))
    after = await pipeline.settled_accounting()

    assert signal_counts(second) == {"product_view": 1}  # what the first lead was credited is not moved
    assert second["profile"]["email"] == "bo@globex.com"
    status, first_again = await pipeline.lead(FIRST)
    assert status == 200
    assert signal_counts(first_again) == {"pricing_view": 2}  # the later visit is not the first lead's
    assert first_again["profile"]["email"] == "ana@acme.io"
    assert after["held"] == before["held"]
    # Three visits and two identifies, each scored once: nothing released twice, nothing held back.
    assert after["scored"] - before["scored"] == 5
    assert after["deduplicated"] == before["deduplicated"]
