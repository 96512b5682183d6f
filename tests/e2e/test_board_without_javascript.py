"""The board read with plain HTTP, no browser and so no script: what it shows is in the HTML the server sends.

The live feed (board.js, server-sent events) only updates pages; the funnel, the hot leads and a
lead's details must be there for a reader without JavaScript, a screen reader or a crawler.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.pipeline_harness import (
    ICP_TRAITS, RunningPipeline, answers, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]
HOT = ("plain-hot-1", "plain-hot-2")
WARM, COLD = "plain-warm", "plain-cold"
VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed"}


def hot_journey(lead: str, extra_webinar: bool) -> list[dict[str, Any]]:
    steps = [identify(lead, f"{lead}-0", f"{lead}@acme.io", 0), track(lead, f"{lead}-1", "Case Study Downloaded", 1),
             page(lead, f"{lead}-2", "/pricing", 2), track(lead, f"{lead}-3", "Demo Requested", 3),
             answers(lead, f"{lead}-4", 4, budget="yes", authority="yes", need="yes", timeline="Q1")]
    if extra_webinar:  # a higher score, so the two hot rows have an order to keep
        steps.append(track(lead, f"{lead}-5", "Webinar Attended", 5))
    return steps


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def board(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("plain-board"))
    await running.send_all(hot_journey(HOT[0], extra_webinar=True))
    await running.send_all(hot_journey(HOT[1], extra_webinar=False))
    await running.send_all([identify(WARM, f"{WARM}-0", f"{WARM}@initech.com", 0),
                            track(WARM, f"{WARM}-1", "Webinar Attended", 1),
                            track(WARM, f"{WARM}-2", "Case Study Downloaded", 2),
                            page(WARM, f"{WARM}-3", "/product", 3)])
    await running.send_all([identify(COLD, f"{COLD}-0", f"{COLD}@initech.com", 0),
                            page(COLD, f"{COLD}-1", "/blog/hello", 1)])
    for lead in HOT:
        await running.changes_for(lead, count=3)
    await running.settled_accounting()
    yield running
    await stop_pipeline(running)


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node] = []
        self.content: list[Node | str] = []  # text and child elements, in document order

    def text(self) -> str:
        return " ".join(" ".join(part if isinstance(part, str) else part.text() for part in self.content).split())

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = [self] if self.tag == tag and all(self.attrs.get(k) == v for k, v in attrs.items()) else []
        for child in self.children:
            found += child.find_all(tag, **attrs)
        return found

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]


class Tree(HTMLParser):
    """The page as the server sent it, as a tree: nothing a script would add later is in it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = Node("document", {})
        self._open = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self._open[-1].children.append(node)
        self._open[-1].content.append(node)
        if tag not in VOID:
            self._open.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].content.append(data)


async def fetch(url: str, as_json: bool = False) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            if as_json:
                return response.status, await response.json(content_type=None)
            assert response.content_type == "text/html"
            return response.status, await response.text()


async def test_the_overview_carries_the_funnel_counts_and_the_hot_leads_in_its_html(board: RunningPipeline):
    status, html = await fetch(f"{board.worker.url}/board")
    assert status == 200
    document = Tree(html).root

    stages = {row.attrs["data-stage"]: int(row.find("td", **{"class": "count"}).text())
              for row in document.find("table", id="funnel-stages").find_all("tr") if "data-stage" in row.attrs}
    assert stages == {"new": 0, "iql": 1, "mql": 1, "pql": 0, "sql": 2, "recycled": 0, "disqualified": 0}
    temperatures = {row.attrs["data-temperature"]: int(row.find("td", **{"class": "count"}).text())
                    for row in document.find("table", id="funnel-temperatures").find_all("tr")
                    if "data-temperature" in row.attrs}
    assert temperatures == {"hot": 2, "warm": 1, "cold": 1}
    _, stats = await fetch(f"{board.worker.url}/stats", as_json=True)  # what the API says, at the same moment
    assert {k: v for k, v in stats["leads_per_stage"].items() if v} == {k: v for k, v in stages.items() if v}

    rows = document.find("tbody", id="hot-rows").find_all("tr")
    assert [row.attrs["data-lead"] for row in rows] == list(HOT)  # hottest first
    first = rows[0]
    assert first.find("a").attrs["href"] == f"/board/leads/{HOT[0]}"
    assert "acme.io" in first.text() and "SQL" in first.text() and "demo_request" in first.text()
    assert "hidden" in document.find("p", id="hot-empty").attrs  # "No hot leads right now" is not shown


async def test_a_lead_page_carries_the_leads_details_in_its_html(board: RunningPipeline):
    lead = HOT[0]
    _, api = await fetch(f"{board.worker.url}/leads/{lead}", as_json=True)
    status, html = await fetch(f"{board.worker.url}/board/leads/{lead}")
    assert status == 200
    document = Tree(html).root

    assert document.find("h1").attrs["data-lead"] == lead
    summary = document.find("p", **{"class": "summary"}).text()
    assert "hot" in summary and "SQL" in summary and "acme.io" in summary and api["model_version"] in summary
    assert float(document.find("strong", id="score-total").attrs["data-score"]) == api["score"]["total"]
    items = document.find("ul", **{"class": "criteria"}).find_all("li")
    criteria = {item.text().split()[1]: item.attrs["class"] for item in items}  # each reads "✓ budget met"
    assert criteria == {name: "c-met" for name in ("budget", "authority", "need", "timeline")}
    contributions = {row.find("th").text(): row for row in document.find("table", **{"class": "contributions"})
                     .find("tbody").find_all("tr")}
    assert set(contributions) == {c["signal"] for c in api["contributions"]}
    timeline = document.find("section", **{"aria-labelledby": "timeline-heading"}).text()
    for signal in ("case_study_download", "pricing_view", "demo_request", "webinar_attended"):
        assert signal in timeline
    assert "criteria answered" in timeline and "SQL" in timeline
    profile = document.find("table", **{"class": "profile"}).text()
    assert f"{lead}@acme.io" in profile and ICP_TRAITS["title"] in profile
