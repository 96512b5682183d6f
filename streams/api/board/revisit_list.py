"""The board's revisit queue: leads due for another look (GET /revisits), the longest waiting first.

Pure functions from the API's lead documents to HTML, every value escaped as it is written.
"""

from __future__ import annotations

from html import escape
from typing import Any

from streams.api.board.pages import badge, enrichment, grade_badge, lead_link, number, when

REASONS = {"recycled": "recycled", "cold": "cold, good fit"}


def revisit_row(lead: dict[str, Any]) -> str:
    revisit = lead["revisit"]
    return (
        f'<tr data-lead="{escape(lead["lead_id"])}"><th scope="row">{lead_link(lead["lead_id"])}'
        f'{enrichment(lead)}</th><td>{escape(lead["account"] or "—")}</td>'
        f'<td>{escape(lead["stage"].upper())} {badge(lead["temperature"])}</td>'
        f'<td>{grade_badge(lead.get("grade"))}</td>'
        f'<td class="num">{number(lead["score"]["fit"], 0)}</td><td>{when(revisit["due_at"])}</td></tr>'
    )


def revisit_section(leads: list[dict[str, Any]] | None, limit: int) -> str:
    """The overview's section; ``leads`` None when a worker did not answer."""
    note = '<p class="warning">A worker did not answer: the list may be incomplete.</p>' if leads is None else ""
    rows = "".join(revisit_row(lead) for lead in leads or [])
    empty = "" if rows else '<p class="muted" id="revisits-empty">No lead is due for another look.</p>'
    return (
        '<section aria-labelledby="revisits-heading"><h2 id="revisits-heading">Due for another look</h2>'
        f'<p class="muted">Recycled or cold leads with good fit, left alone for the model\'s interval (up to {limit}, '
        'the longest waiting first). Any event of theirs or a sales verdict takes them off.</p>'
        f'{note}<table class="revisits" id="revisits"><caption class="sr">Leads due for a revisit</caption>'
        '<thead><tr><th scope="col">Lead</th><th scope="col">Company</th><th scope="col">Stage</th>'
        '<th scope="col">Grade</th><th scope="col">Fit</th><th scope="col">Due since</th></tr></thead>'
        f'<tbody>{rows}</tbody></table>{empty}</section>'
    )
