"""The board's "New (anonymous)" row counts the anonymous visitors the workers hold, not only NEW leads."""

from __future__ import annotations

import re

from streams.api.board import pages


def new_row_count(html: str) -> int:
    row = re.search(r'<tr data-stage="new">.*?<td class="count">(\d+)</td>', html, re.S)
    assert row, "the funnel lost its New (anonymous) row"
    return int(row.group(1))


def test_held_visitors_are_counted_in_new_anonymous():
    stats = {"leads": 3, "workers": 2, "leads_per_stage": {"new": 1, "sql": 2},
             "leads_per_temperature": {"cold": 1, "hot": 2}, "anonymous_visitors_held": 146}

    html = pages.funnel_fragment(stats, [], (0, 0), [])

    assert "New (anonymous)" in html
    assert new_row_count(html) == 147
    assert new_row_count(pages.funnel_fragment({**stats, "anonymous_visitors_held": 0}, [], (0, 0), [])) == 1
