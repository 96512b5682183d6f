"""The board's pure parts: charts, pages, sign-in rules, and the live feed's bookkeeping."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser

import orjson
import pytest

from scoring.history import History, record
from streams.api.board import auth, pages
from streams.api.board.charts import Frame, nice_step, score_chart, transitions_chart
from streams.api.board.model_tables import model_page
from streams.api.board.feed import Closed, Full, Hub, SeenChanges, TransitionCounter, decode_record, server_sent_event
from streams.api.lead_view import history_document
from tests.unit.builders import HOUR, T0, days, identify, journey, model, signal

SVG = "{http://www.w3.org/2000/svg}"


def a_history_document(now: float = T0 + days(3)) -> dict:
    signals = [identify(T0, "ada@acme.com", title="VP Sales", industry="software"),
               signal("case_study_download", T0 + HOUR), signal("demo_request", T0 + days(1)),
               signal("pricing_view", T0 + days(2))]
    decisions = journey(signals)
    history = History()
    for decision, each in zip(decisions, signals):
        history = record(history, each, decision.change, model())
    return orjson.loads(orjson.dumps(history_document(decisions[-1].state, history, model(), now)))


def test_the_score_chart_plots_the_last_value_where_its_axes_say():
    document = a_history_document()

    svg = ElementTree.fromstring(score_chart(document))

    total = next(p for p in svg.iter(f"{SVG}polyline") if p.get("data-series") == "total")
    left, top, width, height = map(float, svg.get("data-plot").split())
    frame = Frame(left + width, top + height, left, top, 0, 0, float(svg.get("data-t0")), float(svg.get("data-t1")),
                  float(svg.get("data-y0")), float(svg.get("data-y1")))
    last_x, last_y = map(float, total.get("points").split()[-1].split(","))
    assert frame.value_at(last_y) == pytest.approx(document["lead"]["score"]["total"], abs=0.01)
    assert last_x == pytest.approx(left + width)
    assert float(total.get("data-now")) == document["lead"]["score"]["total"]
    assert svg.get("role") == "img" and svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None


def test_thresholds_that_share_a_value_share_one_labelled_line():
    svg = ElementTree.fromstring(score_chart(a_history_document()))

    lines = {line.get("data-value"): line.get("data-threshold") for line in svg.iter(f"{SVG}line")
             if line.get("class") == "threshold"}
    assert lines["30.0"] == "SQL/warm promote"  # the default model puts both rungs at 30
    assert lines["25.0"] == "MQL promote"
    assert set(lines) == {"30.0", "25.0", "20.0", "15.0"}


def test_the_chart_escapes_what_it_is_told():
    document = a_history_document()
    document["lead"]["lead_id"] = "<script>alert(1)</script>"

    chart = score_chart(document)

    assert "<script>" not in chart
    ElementTree.fromstring(chart)  # still well-formed


def test_transitions_per_minute_are_bars_with_their_numbers_in_the_description():
    svg = ElementTree.fromstring(transitions_chart([(T0, 0), (T0 + 60, 3), (T0 + 120, 1)]))

    assert "0, 3, 1" in svg.find(f"{SVG}desc").text
    assert len(list(svg.iter(f"{SVG}rect"))) == 3


def test_nice_steps_are_round_numbers():
    assert [nice_step(span) for span in (7, 40, 90, 130)] == [2, 10, 20, 50]


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parsed(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.tags


def test_a_hostile_lead_id_or_company_is_text_everywhere_on_the_board():
    hostile = '"><img src=x onerror=alert(1)>'
    change = {"lead_id": hostile, "account": hostile, "to_stage": "sql", "to_temperature": "hot",
              "score": {"total": 70.0, "fit": 90.0}, "reasons": [{"signal": hostile, "points_now": 30.0}],
              "criteria": {hostile: "met"}, "framework": hostile, "event_time": "2026-11-23T10:00:00.000Z"}
    document = a_history_document()
    document["lead"]["lead_id"] = document["lead"]["account"] = hostile
    document["lead"]["profile"] = {hostile: hostile}

    for html in (pages.hot_row(pages.hot_lead_from_change(change)), pages.lead_page(document, model())):
        assert "<img" not in html
        assert not any(tag == "img" for tag, _ in parsed(html))


def test_every_form_control_on_the_board_has_a_label():
    html = pages.login_page("/board", failed=False) + pages.overview("", [], 50)

    tags = parsed(html)
    labelled = {attrs["for"] for tag, attrs in tags if tag == "label"}
    controls = [attrs for tag, attrs in tags if tag == "input" and attrs.get("type") != "hidden"]
    assert controls and all(attrs["id"] in labelled for attrs in controls)


def test_every_table_on_the_lead_and_model_pages_has_a_caption_and_header_cells():
    for html in (pages.lead_page(a_history_document(), model()), model_page(model(), "default")):
        tables, captions = html.count("<table"), html.count("<caption")
        assert tables and tables == captions
        assert '<th scope="col">' in html and '<th scope="row">' in html


def test_the_model_page_lists_every_signal_with_its_points():
    html = model_page(model(), "default")

    for kind, rule in model().signals.items():
        assert f'<th scope="row">{kind}</th><td>{rule.component.value}</td>' in html
    assert model().version in html
    assert '<th scope="row">A</th><td>fit</td><td>70</td><td>60</td>' in html
    assert '<th scope="row">2</th><td>engagement</td><td>25</td><td>15</td>' in html


@pytest.mark.parametrize("target, expected", [
    ("/board/leads/a", "/board/leads/a"), (None, "/board"), ("https://evil.example/board", "/board"),
    ("//evil.example/board", "/board"), ("/admin", "/board"), ("/board\\@evil", "/board"),
])
def test_after_signing_in_the_board_only_sends_you_to_itself(target, expected):
    assert auth.safe_next(target) == expected


def test_a_server_sent_event_keeps_multi_line_data_whole():
    assert server_sent_event("hot", "<tr>\n</tr>") == b"event: hot\ndata: <tr>\ndata: </tr>\n\n"


async def test_the_hub_fans_out_and_drops_a_subscriber_that_falls_behind():
    hub = Hub(queue_size=2)
    async with hub.subscribe() as fast, hub.subscribe() as slow:
        assert hub.listeners == 2 and hub.joined.is_set()
        hub.publish(b"one")
        assert await fast.next(timeout=1) == b"one"
        hub.publish(b"two")
        hub.publish(b"three")  # slow has not read: its queue (2) is full
        assert hub.listeners == 1
        assert await fast.next(timeout=1) == b"two"
        assert [await slow.next(timeout=1), await slow.next(timeout=1)] == [b"one", b"two"]
        with pytest.raises(Closed):
            await slow.next(timeout=1)  # what it had, then the end: its page reconnects
        assert await fast.next(timeout=0.01) == b"three"
        assert await fast.next(timeout=0.01) is None  # quiet
        hub.close()
        with pytest.raises(Closed):
            await fast.next(timeout=1)
    assert hub.listeners == 0 and not hub.joined.is_set()


async def test_the_hub_refuses_streams_past_its_cap_until_one_leaves():
    hub = Hub(max_streams=2)
    first, second = hub.join(), hub.join("lead-1")
    with pytest.raises(Full):
        hub.join()
    hub.leave(first)
    third = hub.join()
    assert hub.listeners == 2 and {third, second} == set(hub._subscriptions)


async def test_a_subscriber_is_dropped_when_its_queue_holds_too_many_bytes_not_only_too_many_messages():
    dropped = []
    hub = Hub(queue_size=100, max_bytes=10, on_drop=lambda: dropped.append(1))
    async with hub.subscribe() as reader:
        hub.publish(b"12345")
        hub.publish(b"12345")  # 10 bytes queued: at the bound
        assert await reader.next(timeout=1) == b"12345"
        hub.publish(b"12345")  # room again, once read
        hub.publish(b"1")  # 11 bytes: too much
        assert hub.listeners == 0 and dropped == [1]
        assert [await reader.next(timeout=1), await reader.next(timeout=1)] == [b"12345", b"12345"]
        with pytest.raises(Closed):
            await reader.next(timeout=1)


def test_a_re_emitted_change_counts_once():
    seen = SeenChanges(size=2)
    assert seen.first_time("a") and not seen.first_time("a")
    assert seen.first_time("b") and seen.first_time("c")
    assert seen.first_time("a")  # forgotten beyond the window


def test_transitions_are_counted_per_minute_of_arrival():
    now = [T0 - T0 % 60]
    counter = TransitionCounter(minutes=3, clock=lambda: now[0])

    def change(from_stage: str, to_stage: str, from_temperature: str = "cold", to_temperature: str = "cold") -> dict:
        return {"from_stage": from_stage, "to_stage": to_stage, "from_temperature": from_temperature,
                "to_temperature": to_temperature}

    counter.add(change("new", "iql"))
    now[0] += 60
    counter.add(change("iql", "mql", "cold", "warm"))
    counter.add(change("mql", "mql", "warm", "hot"))  # temperature only
    now[0] += 30

    assert [count for _, count in counter.per_minute()] == [0, 1, 1]
    assert counter.last_minute() == (1, 2)
    assert counter.by_move() == [("iql→mql", 1), ("new→iql", 1)]
    now[0] += 600
    assert counter.by_move() == [] and counter.last_minute() == (0, 0)


def test_the_feed_reads_changes_and_erasures_and_skips_anything_else():
    change = {"kind": "qualification_change", "change_id": "c1", "lead_id": "l", "from_stage": "iql",
              "to_stage": "mql", "from_temperature": "cold", "to_temperature": "warm", "score": {}}
    assert decode_record(orjson.dumps(change)) == change
    assert decode_record(orjson.dumps({"kind": "lead_erased", "lead_id": "l", "change_id": "x"}))["kind"] == "lead_erased"
    for junk in (None, b"", b"not json", b"[]", orjson.dumps({"kind": "other", "lead_id": "l"}),
                 orjson.dumps({"lead_id": "l"})):
        assert decode_record(junk) is None


async def test_a_lead_page_hears_only_its_own_lead_and_the_overview_none_of_it():
    hub = Hub()
    async with hub.subscribe() as overview, hub.subscribe("lead-1") as one, hub.subscribe("lead-2") as two:
        assert hub.overview_listeners == 1
        hub.publish(b"board")
        hub.publish(b"moved", lead_id="lead-1")

        assert await overview.next(timeout=0.1) == b"board"
        assert await overview.next(timeout=0.01) is None
        assert await one.next(timeout=0.1) == b"moved"
        assert await two.next(timeout=0.01) is None


def test_a_move_notice_says_where_the_lead_went_and_escapes_it():
    notice = pages.move_notice({"from_stage": "mql", "to_stage": "sql", "from_temperature": "warm",
                                "to_temperature": "<b>hot</b>", "score": {"total": 73.25},
                                "event_time": "2026-11-23T10:00:00.000Z"})

    assert "MQL → SQL" in notice and "score 73.2" in notice and "<b>" not in notice


def test_a_lead_with_nothing_scored_yet_still_gets_a_chart_and_a_page():
    state = journey([identify(T0, "ada@acme.com")])[-1].state
    document = orjson.loads(orjson.dumps(history_document(state, History(), model(), T0 + HOUR)))

    svg = ElementTree.fromstring(score_chart(document))

    assert len(document["series"]["t"]) == 1 and document["series"]["total"] == [0.0]
    assert next(p for p in svg.iter(f"{SVG}polyline") if p.get("data-series") == "total").get("data-now") == "0.0"
    assert "No scored signals yet" in pages.lead_page(document, model())


def test_no_two_time_ticks_of_a_chart_say_the_same():
    for days_shown in (0.5, 3, 6, 30, 200):
        svg = ElementTree.fromstring(score_chart(a_history_document(now=T0 + days(days_shown))))

        ticks = [text.text for text in svg.iter(f"{SVG}text") if text.get("class") == "tick-x"]

        assert len(ticks) == 6 and len(set(ticks)) == 6, (days_shown, ticks)


def cells(html: str) -> list[str]:
    """The text of each cell of a table row, tags dropped."""
    parser = CellText()
    parser.feed(html)
    return parser.cells


class CellText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self.cells.append("")
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.cells[-1] += data


def hot_headings() -> list[str]:
    """The hot list's column headings, as the overview page writes them."""
    return cells(pages.overview("", [], 50).split("<thead>")[1].split("</thead>")[0])


HOT_CHANGE = {"lead_id": "ada@acme.com", "account": "acme.com", "to_stage": "sql", "to_temperature": "hot",
              "score": {"total": 70.0, "fit": 90.0}, "reasons": [], "criteria": {}, "framework": "bant",
              "event_time": "2026-11-23T10:00:00.000Z", "grade": "A1"}


def test_a_hot_row_shows_the_grade_under_its_heading_from_a_change_or_a_lead_document():
    headings = hot_headings()
    from_change = cells(pages.hot_row(pages.hot_lead_from_change(HOT_CHANGE)))
    lead = a_history_document()["lead"]
    from_document = cells(pages.hot_row(pages.hot_lead_from_document(lead)))

    assert from_change[headings.index("Grade")] == "A1"
    assert from_document[headings.index("Grade")] == lead["grade"] == "B2"  # fit 55, engagement some 43


def test_a_change_from_before_grades_shows_a_dash_for_its_grade():
    ungraded = {key: value for key, value in HOT_CHANGE.items() if key != "grade"}
    headings = hot_headings()

    assert cells(pages.hot_row(pages.hot_lead_from_change(ungraded)))[headings.index("Grade")] == "—"


def test_a_lead_page_and_a_move_notice_show_the_grade():
    document = a_history_document()
    notice = pages.move_notice({"from_stage": "mql", "to_stage": "sql", "from_temperature": "warm",
                                "to_temperature": "hot", "score": {"total": 73.25}, "grade": "A2",
                                "event_time": "2026-11-23T10:00:00.000Z"})

    assert '<strong id="grade"><span class="grade"' in pages.lead_page(document, model())
    assert ">B2</span>" in pages.lead_page(document, model())
    assert "grade A2" in notice
