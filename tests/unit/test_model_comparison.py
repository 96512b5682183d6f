"""`report --models`: each model judged from its own stage history, the shadow's starting from the live one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html import escape

from scoring import Stage, Temperature
from scoring.kinds import DealOutcome
from streams.api.board.model_tables import shadow_page
from streams.ops.model_comparison import (
    Closing, Comparison, Move, column, joins, move_from, render, shadow_history, side_by_side,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0
STARTED = T0 + 10 * HOUR  # when the shadow came on (wall clock, as emitted_at)


def move(lead: str, at: float, before: tuple[Stage, Temperature], after: tuple[Stage, Temperature],
         version: str = "live-1", cause: str = "event", cause_id: str | None = None) -> Move:
    return Move(lead, at, at + 1, before[0], after[0], before[1], after[1], version, cause,
                cause_id or f"{lead}-{at}", ())


IQL, MQL, SQL = (Stage.IQL, Temperature.COLD), (Stage.MQL, Temperature.WARM), (Stage.SQL, Temperature.HOT)
NEW = (Stage.NEW, Temperature.COLD)
LIVE = [move("ada", T0, NEW, IQL), move("bob", T0, NEW, IQL), move("bob", T0 + HOUR, IQL, MQL),
        move("cy", T0 + 11 * HOUR, NEW, IQL)]
# The shadow starts ada at MQL (its richer webinars) and takes cy on to SQL; bob it keeps as the live model did.
SHADOW = [move("ada", T0 + 10 * HOUR, IQL, MQL, "cand-2", "model", "shadow:cand-2@4"),
          move("cy", T0 + 11 * HOUR, NEW, IQL, "cand-2"), move("cy", T0 + 12 * HOUR, IQL, SQL, "cand-2")]
CLOSED = [Closing("ada", "crm-1", DealOutcome.WON, T0 + 20 * HOUR),
          Closing("bob", "crm-2", DealOutcome.LOST, T0 + 20 * HOUR),
          Closing("cy", "crm-3", DealOutcome.WON, T0 + 20 * HOUR)]


def test_the_shadow_history_is_the_live_one_until_it_started_then_its_own():
    history = shadow_history(LIVE, SHADOW, STARTED)
    assert [m.lead_id for m in history] == ["ada", "bob", "bob", "ada", "cy", "cy"]  # cy's live change came after


def test_each_model_is_judged_against_the_deals_that_closed():
    live = column("live live-1", LIVE, CLOSED, T0, T0 + 30 * HOUR)
    shadow = column("shadow cand-2", shadow_history(LIVE, SHADOW, STARTED), CLOSED, T0, T0 + 30 * HOUR)

    assert live.verdicts["mql"] == ("0/1 = 0.0%", "0/2 = 0.0%")  # only bob reached MQL, and lost
    assert shadow.verdicts["mql"] == ("1/2 = 50.0%", "1/2 = 50.0%")  # ada (won) and bob (lost); cy skipped MQL
    assert shadow.verdicts["sql"] == ("1/1 = 100.0%", "1/2 = 50.0%")
    assert (live.per_stage[Stage.MQL], shadow.per_stage[Stage.MQL], shadow.per_stage[Stage.SQL]) == (1, 2, 1)
    assert (live.alerts, shadow.alerts) == (0, 1)  # cy turning hot and SQL: one alert


def test_a_window_counts_only_its_changes_and_closed_deals():
    late = column("shadow", shadow_history(LIVE, SHADOW, STARTED), CLOSED, T0 + 10.5 * HOUR, T0 + 12 * HOUR)
    assert late.changes == 2  # cy's two; ada's start came before the window
    assert late.verdicts["sql"] == ("0/0 = n/a", "0/0 = n/a")  # no deal closed in it
    assert late.per_stage[Stage.SQL] == 1  # where each lead stands at the window's end


def test_a_deal_is_joined_to_the_history_before_it_not_to_the_change_it_caused():
    caused = move("ada", T0 + 20 * HOUR, MQL, SQL, cause="outcome", cause_id="crm-1")
    (joined,) = joins([*LIVE, caused], CLOSED[:1])
    assert Stage.SQL not in joined.reached and joined.stage is Stage.IQL


def test_a_change_record_reads_back_as_a_move_and_an_erasure_notice_as_none():
    record = {"kind": "qualification_change", "lead_id": "ada", "event_time": "2026-11-02T09:00:00.000Z",
              "emitted_at": "2026-11-02T09:00:01.000Z", "from_stage": "iql", "to_stage": "mql",
              "from_temperature": "cold", "to_temperature": "warm", "model_version": "cand-2",
              "cause": {"type": "model", "event_id": "shadow:cand-2@4"}, "disqualified_by": []}
    assert move_from(record) == Move("ada", T0, T0 + 1, Stage.IQL, Stage.MQL, Temperature.COLD, Temperature.WARM,
                                     "cand-2", "model", "shadow:cand-2@4", ())
    assert move_from({"kind": "lead_erased", "lead_id": "ada"}) is None


def test_the_report_and_the_board_show_the_same_rows():
    columns = [column("live live-1", LIVE, CLOSED, T0, T0 + 30 * HOUR),
               column("shadow cand-2", shadow_history(LIVE, SHADOW, STARTED), CLOSED, T0, T0 + 30 * HOUR)]
    rows = side_by_side(columns)
    text = render(rows, T0, T0 + 30 * HOUR)
    html = shadow_page(Comparison("cand-2", True, STARTED, T0, T0 + 30 * HOUR, 3, "topics", rows), "", "")
    for label, cells in rows[1:]:
        assert label in text and escape(label) in html
    assert "mql precision (won among closed deals reaching it)" in text
    assert "1/2 = 50.0%" in text and "1/2 = 50.0%" in html
    assert 'id="shadow-version">cand-2<' in html
    assert (datetime.fromtimestamp(T0, timezone.utc) + timedelta(hours=30)).strftime("%Y-%m-%dT%H") in text


def test_the_board_says_so_when_no_shadow_has_run():
    html = shadow_page(None, "2026-11-01", "", "no shadow model has run: put one on with `leadstream model shadow FILE`")
    assert "no shadow model has run" in html and 'value="2026-11-01"' in html and "shadow-comparison" not in html
