"""The terminal view of `leadstream dev`: one line per change, with the lead's grade."""

from __future__ import annotations

import io

import orjson

from streams.devtools.live import LiveView
from tests.integration.alert_fixtures import encoded, turning_hot


def test_a_change_line_shows_the_grade_and_one_from_before_grades_a_placeholder():
    out = io.StringIO()
    view = LiveView(out, started_at=0.0)
    view.on_change(encoded(turning_hot("dana@acme.io", grade="B1")))
    ungraded = orjson.loads(encoded(turning_hot("lee@acme.io", cause="demo-2")))
    del ungraded["grade"]
    view.on_change(orjson.dumps(ungraded))

    first, second = out.getvalue().splitlines()
    assert "dana@acme.io" in first and "warm→hot  B1  score  76.7" in first
    assert "lee@acme.io" in second and "warm→hot  --  score  76.7" in second
