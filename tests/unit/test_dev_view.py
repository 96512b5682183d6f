"""The demo's view of leads.qualification: transitions by cause, decay marked, the alerts sales would get."""

from __future__ import annotations

import io

import orjson
from msgspec.structs import replace

from streams.alerting.change import decode_change
from streams.alerting.message import console_text
from streams.alerting.rules import AlertRule, promotion
from streams.config.clock import scaled_clock
from streams.devtools.live import ChangeTally, PlainView
from streams.devtools.live_panel import make_view
from tests.integration.alert_fixtures import (
    T0,
    encoded,
    qualification_change,
    turning_hot,
    warming,
)

DAY_S = 86_400.0


def cooled(lead: str, at: float, cause: str = "decay") -> bytes:
    """Hot → warm with no event behind it: time alone moved the lead."""
    change = qualification_change(lead, f"{cause}:{at}", ("sql", "hot"), ("sql", "warm"))
    return encoded(replace(change, cause=cause, event_time=at))


def test_transitions_are_counted_by_cause_each_change_once_and_decay_is_marked():
    out = io.StringIO()
    tally = ChangeTally(scaled_clock(129_600.0, started_wall=T0 - 10), started_at=T0 - 10)
    view = PlainView(tally, out)
    hot = encoded(turning_hot("lead-a"))
    for raw in (encoded(warming("lead-a")), hot, hot, cooled("lead-a", T0 + 30 * DAY_S)):
        view.on_change(raw)

    summary = tally.summary()
    assert summary["by_cause"] == {"event": 2, "decay": 1}
    assert summary["temperature_by_cause"] == {"event": {"cold→warm": 1, "warm→hot": 1}, "decay": {"hot→warm": 1}}
    assert summary["stage_by_cause"] == {"event": {"iql→mql": 1, "mql→sql": 1}}
    assert tally.hot == {}, "a lead that cooled is no longer among the hot ones"
    lines = out.getvalue().splitlines()
    change_lines = [line for line in lines if "lead-a" in line]
    assert len(change_lines) == 3, "the re-emitted change (same id) is shown once"
    assert "[decay]" in change_lines[-1] and "hot→warm" in change_lines[-1]
    assert not any("[decay]" in line for line in change_lines[:-1])
    # The demo day is the change's own time on the demo clock, counted from when traffic began.
    assert "day  30.0" in change_lines[-1]
    assert "\x1b" not in out.getvalue(), "not a terminal: no colour codes"


def test_the_alert_printed_is_the_one_leadstream_alerts_would_send_and_only_for_a_promotion():
    out = io.StringIO()
    tally = ChangeTally(scaled_clock(129_600.0), started_at=T0)
    view = PlainView(tally, out)
    hot = encoded(turning_hot("lead-b"))
    view.on_change(encoded(warming("lead-b")))
    view.on_change(hot)
    view.on_change(cooled("lead-b", T0 + DAY_S))

    change = decode_change(hot)
    expected = console_text(change, promotion(change, AlertRule()))
    assert expected in out.getvalue()
    assert out.getvalue().count("ALERT ") == 1 == tally.alerts


def test_piped_output_gets_plain_lines_and_not_the_panel():
    assert isinstance(make_view(ChangeTally(scaled_clock(1.0), started_at=T0), io.StringIO()), PlainView)


def test_a_change_line_shows_the_grade_and_one_from_before_grades_a_placeholder():
    out = io.StringIO()
    view = PlainView(ChangeTally(scaled_clock(1.0), started_at=T0), out)
    view.on_change(encoded(turning_hot("dana@acme.io", grade="B1")))
    ungraded = orjson.loads(encoded(turning_hot("lee@acme.io", cause="demo-2")))
    del ungraded["grade"]
    view.on_change(orjson.dumps(ungraded))

    first, second = [line for line in out.getvalue().splitlines() if "@acme.io" in line and "score" in line]
    assert "dana@acme.io" in first and "warm→hot  B1  score  76.7" in first
    assert "lee@acme.io" in second and "warm→hot  --  score  76.7" in second
