"""The board's HTML: whole pages for the first paint, and the fragments the live feed sends.

The scoring model's page is its own module (model_tables.py); this one holds the layout, the
overview, a lead's page, and signing in.

Pure functions from API documents (the JSON the lead API answers) and the scoring model to
HTML text. Every value that came from data is escaped here, once, as it is written.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import quote

from scoring import ScoringModel
from scoring.stages import FUNNEL_ORDER, Stage, Temperature
from streams.api.board.charts import SERIES_LABEL, SERIES_STYLE, score_chart, transitions_chart

STAGE_NAMES = {
    Stage.NEW: "New (anonymous)", Stage.IQL: "IQL", Stage.MQL: "MQL", Stage.PQL: "PQL", Stage.SQL: "SQL",
    Stage.RECYCLED: "Recycled", Stage.DISQUALIFIED: "Disqualified",
}
STATUS_MARK = {"met": "✓", "not_met": "✗", "unknown": "?"}
STATUS_TEXT = {"met": "met", "not_met": "not met", "unknown": "unknown"}

_LAYOUT = Template(resources.files("streams.api.board").joinpath("templates/layout.html").read_text("utf-8"))
NAV = (("overview", "/board", "Funnel and hot leads"), ("model", "/board/model", "Scoring model"))
SCRIPT = '<script src="/board/static/board.js" defer></script>'
CURRENT = ' aria-current="page"'
FRESH = ' class="fresh"'
NOW_ROW = ' id="chart-now"'


def page(title: str, main: str, current: str = "", scripts: str = "", live: bool = False) -> str:
    nav = "".join(
        f'<a href="{href}"{CURRENT if name == current else ""}>{escape(label)}</a>' for name, href, label in NAV
    )
    return _LAYOUT.substitute(title=escape(title), page=escape(current), nav=nav, main=main, scripts=scripts,
                              live="waiting" if live else "off")


def when(iso: str | None) -> str:
    """A <time> element for an ISO time from the API, shown in UTC to the second."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f'<time datetime="{escape(iso)}">{moment.strftime("%Y-%m-%d %H:%M:%S")} UTC</time>'


def number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) and value != int(value) else f"{value:g}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def lead_link(lead_id: str) -> str:
    return f'<a href="/board/leads/{quote(lead_id, safe="")}">{escape(lead_id)}</a>'


def badge(temperature: str) -> str:
    return f'<span class="badge t-{escape(temperature)}">{escape(temperature)}</span>'


def grade_badge(grade: str | None) -> str:
    """The lead's letter grade (fit letter, engagement digit); a dash for a change made before grades."""
    title = f"fit {grade[0]} (A best), engagement {grade[1:]} (1 highest)" if grade else "not graded yet"
    return f'<span class="grade" title="{escape(title)}">{escape(grade or "—")}</span>'


def enrichment(lead: dict[str, Any]) -> str:
    """The flag on a lead held back only by fit attributes nobody stated (a lead document or a change)."""
    if not lead.get("needs_enrichment"):
        return ""
    return (' <span class="badge needs-enrichment" title="Held back only by fit attributes nobody has stated: '
            'enrich the profile">needs enrichment</span>')


def criteria_list(criteria: dict[str, str], framework: str | None = None) -> str:
    items = "".join(
        f'<li class="c-{escape(status)}"><span aria-hidden="true">{STATUS_MARK.get(status, "?")}</span> '
        f'{escape(name)}<span class="sr"> {escape(STATUS_TEXT.get(status, status))}</span></li>'
        for name, status in criteria.items()
    )
    label = f' aria-label="{escape(framework.upper())} criteria"' if framework else ""
    return f'<ul class="criteria"{label}>{items}</ul>'


# --- the overview: funnel and hot leads -----------------------------------------------------

def funnel_fragment(stats: dict[str, Any] | None, per_minute: list[tuple[float, int]],
                    last_minute: tuple[int, int], by_move: list[tuple[str, int]]) -> str:
    """The funnel section's content: leads per stage and temperature, and transitions per minute."""
    if stats is None:
        counts = '<p class="warning">A worker did not answer: the counts would be incomplete.</p>'
    else:
        stages, temps = stats["leads_per_stage"], stats["leads_per_temperature"]
        # Held anonymous visitors are not leads yet, but they are who "New (anonymous)" means.
        stages = {**stages, Stage.NEW.value: stages.get(Stage.NEW.value, 0) + stats.get("anonymous_visitors_held", 0)}
        widest = max([*stages.values(), 1])
        rows = "".join(
            f'<tr data-stage="{stage.value}"><th scope="row">{escape(STAGE_NAMES[stage])}</th>'
            f'<td class="count">{stages.get(stage.value, 0)}</td>'
            f'<td class="bar" aria-hidden="true">'
            f'<svg viewBox="0 0 100 1" preserveAspectRatio="none"><rect height="1" '
            f'width="{100 * stages.get(stage.value, 0) / widest:.1f}"></rect></svg></td></tr>'
            for stage in FUNNEL_ORDER
        )
        temp_rows = "".join(
            f'<tr data-temperature="{t.value}"><th scope="row">{badge(t.value)}</th>'
            f'<td class="count">{temps.get(t.value, 0)}</td></tr>'
            for t in Temperature
        )
        counts = (
            f'<div class="funnel-tables"><table class="funnel" id="funnel-stages" data-total="{stats["leads"]}">'
            f'<caption>Leads per stage ({_count(stats["leads"], "lead")}, {_count(stats["workers"], "worker")})'
            '</caption>'
            '<thead><tr><th scope="col">Stage</th><th scope="col">Leads</th><th scope="col">'
            '<span class="sr">Share</span></th></tr></thead>'
            f'<tbody>{rows}</tbody></table>'
            '<table class="funnel" id="funnel-temperatures"><caption>Leads per temperature</caption>'
            '<thead><tr><th scope="col">Temperature</th><th scope="col">Leads</th></tr></thead>'
            f'<tbody>{temp_rows}</tbody></table></div>'
        )
    stage_moves, temperature_moves = last_minute
    moves = "".join(f'<tr><th scope="row">{escape(move)}</th><td class="count">{count}</td></tr>'
                    for move, count in by_move[:8]) or '<tr><td colspan="2">None yet</td></tr>'
    return (
        counts
        + '<div class="transitions">'
        f'<p class="rate"><strong id="transitions-last-minute">{stage_moves}</strong> stage transitions and '
        f'<strong>{temperature_moves}</strong> temperature changes in the last minute</p>'
        + transitions_chart(per_minute)
        + f'<table class="moves"><caption>Stage transitions, last {len(per_minute)} minutes</caption>'
        '<thead><tr><th scope="col">From → to</th><th scope="col">Count</th></tr></thead>'
        f'<tbody>{moves}</tbody></table></div>'
    )


def hot_lead_from_document(document: dict[str, Any]) -> dict[str, Any]:
    """A lead from GET /leads, in the shape a hot-list row needs."""
    return {
        "lead_id": document["lead_id"], "account": document["account"], "stage": document["stage"],
        "temperature": document["temperature"], "score": document["score"]["total"], "fit": document["score"]["fit"],
        "reasons": [(c["signal"], c["points_now"]) for c in document["top_contributions"]],
        "criteria": document["criteria"], "framework": document.get("framework"), "at": None,
        "needs_enrichment": document.get("needs_enrichment", False), "grade": document.get("grade"),
    }


def hot_lead_from_change(change: dict[str, Any]) -> dict[str, Any]:
    """A lead from a qualification change on the topic, in the shape a hot-list row needs."""
    return {
        "lead_id": change["lead_id"], "account": change.get("account"), "stage": change["to_stage"],
        "temperature": change["to_temperature"], "score": change["score"]["total"], "fit": change["score"]["fit"],
        "reasons": [(r["signal"], r["points_now"]) for r in change.get("reasons", [])],
        "criteria": change.get("criteria", {}), "framework": change.get("framework"), "at": change.get("event_time"),
        "needs_enrichment": change.get("needs_enrichment", False), "grade": change.get("grade"),
    }


def hot_row(lead: dict[str, Any], fresh: bool = False) -> str:
    reasons = ", ".join(f"{escape(signal)} {points:.1f}" for signal, points in lead["reasons"]) or "—"
    turned = f'<br><span class="muted">hot since {when(lead["at"])}</span>' if lead["at"] else ""
    return (
        f'<tr data-lead="{escape(lead["lead_id"])}"{FRESH if fresh else ""}>'
        f'<th scope="row">{lead_link(lead["lead_id"])}{enrichment(lead)}{turned}</th>'
        f'<td>{escape(lead["account"] or "—")}</td>'
        f'<td>{escape(lead["stage"].upper())}</td>'
        f'<td>{grade_badge(lead["grade"])}</td>'
        f'<td class="num" data-score="{lead["score"]!r}">{number(lead["score"])}</td>'
        f'<td class="num">{number(lead["fit"], 0)}</td>'
        f'<td>{reasons}</td>'
        f'<td>{criteria_list(lead["criteria"], lead["framework"])}</td></tr>'
    )


def move_notice(change: dict[str, Any]) -> str:
    """What a lead page says when its lead moves while it is open."""
    moved = f'{escape(change["from_stage"].upper())} → {escape(change["to_stage"].upper())}'
    if change["from_temperature"] != change["to_temperature"]:
        moved += f', {badge(change["from_temperature"])} → {badge(change["to_temperature"])}'
    moved += f', grade {escape(change["grade"])}' if change.get("grade") else ""
    return (f'Moved {when(change.get("event_time"))}: {moved}, score {number(change["score"]["total"], 1)}. '
            '<a href="">Reload</a> for the new chart and timeline.')


def hot_rows(leads: list[dict[str, Any]]) -> str:
    return "".join(hot_row(lead) for lead in leads)


def overview(funnel: str, hot: list[dict[str, Any]] | None, hot_limit: int, more: str = "") -> str:
    """``more``: sections after the hot list (the revisit queue, streams/api/board/revisit_list.py)."""
    hot_body = hot_rows(hot) if hot else ""
    hot_note = ('<p class="warning">A worker did not answer: the list may be incomplete.</p>'
                if hot is None else "")
    return page("Lead board", current="overview", live=True, scripts=SCRIPT, main=(
        '<h1>Lead board</h1>'
        '<p class="live-status" id="live-status" role="status">Live updates: connecting…</p>'
        '<p class="sr" id="announcer" role="status" aria-live="polite"></p>'
        '<section aria-labelledby="funnel-heading"><h2 id="funnel-heading">Funnel</h2>'
        f'<div id="funnel">{funnel}</div></section>'
        '<section aria-labelledby="hot-heading"><h2 id="hot-heading">Hot now</h2>'
        f'<p class="muted">The hottest leads across all workers (up to {hot_limit}); a lead turning hot appears '
        'at the top as it happens.</p>'
        f'{hot_note}'
        '<table class="hot" id="hot"><caption class="sr">Hot leads, newest promotions first</caption>'
        '<thead><tr><th scope="col">Lead</th><th scope="col">Company</th><th scope="col">Stage</th>'
        '<th scope="col">Grade</th><th scope="col">Score</th><th scope="col">Fit</th><th scope="col">Top reasons</th>'
        '<th scope="col">Criteria</th></tr></thead>'
        f'<tbody id="hot-rows">{hot_body}</tbody></table>'
        f'<p id="hot-empty" class="muted"{" hidden" if hot else ""}>No hot leads right now.</p>'
        f'</section>{more}'
    ))


# --- one lead ---------------------------------------------------------------------------------

def lead_page(document: dict[str, Any], model: ScoringModel) -> str:
    lead = document["lead"]
    score = lead["score"]
    summary = (
        f'<p class="summary">{badge(lead["temperature"])} <strong>{escape(lead["stage"].upper())}</strong> · '
        f'grade <strong id="grade">{grade_badge(lead.get("grade"))}</strong> · '
        f'score <strong id="score-total" data-score="{score["total"]!r}">{number(score["total"], 2)}</strong> · '
        f'fit {number(score["fit"], 0)} · company {escape(lead["account"] or "—")} · model '
        f'{escape(lead["model_version"])} · scored {when(lead["scored_at"])}{enrichment(lead)}</p>'
    )
    revisit = lead.get("revisit") or {}
    if revisit.get("awaiting"):
        summary += f'<p class="revisit">Due for another look since {when(revisit["due_at"])}.</p>'
    disqualified = (f'<p class="warning">Out of market: {escape(", ".join(lead["disqualified_by"]))}</p>'
                    if lead["disqualified_by"] else "")
    return page(f"Lead {lead['lead_id']}", current="lead", live=True, scripts=SCRIPT, main=(
        f'<h1 data-lead="{escape(lead["lead_id"])}">Lead {escape(lead["lead_id"])}</h1>{summary}{disqualified}'
        '<p class="live-status" id="live-status">Live updates: connecting…</p>'
        '<p class="moved" id="lead-moved" role="status" aria-live="polite" hidden></p>'
        '<section aria-labelledby="chart-heading"><h2 id="chart-heading">Score over time</h2>'
        f'{_chart_note(document)}<figure>{score_chart(document)}<figcaption>{_legend()}</figcaption></figure>'
        f'{_chart_table(document)}</section>'
        '<div class="columns">'
        f'<section aria-labelledby="today-heading"><h2 id="today-heading">Today\'s score</h2>{_contributions(lead, model)}'
        '</section>'
        f'<section aria-labelledby="criteria-heading"><h2 id="criteria-heading">Criteria '
        f'({escape(lead["framework"].upper())})</h2>{criteria_list(lead["criteria"], lead["framework"])}</section>'
        f'<section aria-labelledby="account-heading"><h2 id="account-heading">Account</h2>{_account(lead)}</section>'
        '</div>'
        f'<section aria-labelledby="timeline-heading"><h2 id="timeline-heading">Timeline</h2>{_timeline(document)}'
        '</section>'
    ))


def _chart_note(document: dict[str, Any]) -> str:
    if document["folded_events"]:
        return (f'<p class="muted">Drawn exactly from {when(document["since"])}; the '
                f'{document["folded_events"]} earlier events are folded into the line\'s starting value.</p>')
    return ""


def _legend() -> str:
    items = "".join(
        f'<li><svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" y1="5" y2="5" stroke="{colour}" '
        f'stroke-width="{width}"{_dashes(dash)}/></svg> {escape(SERIES_LABEL[part])}</li>'
        for part, (colour, dash, width) in SERIES_STYLE.items()
    )
    return (f'<ul class="legend">{items}<li>▲ an event</li><li>┆ a stage or temperature change</li>'
            '<li>↑ threshold to climb, ↓ to fall back</li></ul>')


def _dashes(dash: str) -> str:
    return f' stroke-dasharray="{dash}"' if dash else ""


def _chart_table(document: dict[str, Any]) -> str:
    """The plotted numbers at each event (with it) and now, for screen readers and for checking."""
    series = document["series"]
    times = series["t"]
    rows = []
    for event in document["events"]:
        if event["signal"] is None or event["t"] not in times:
            continue
        index = len(times) - 1 - times[::-1].index(event["t"])  # with the event: the later of the two samples
        rows.append((when(event["at"]), escape(event["signal"]), index))
    rows.append(("now", "", len(times) - 1))
    body = "".join(
        f'<tr{NOW_ROW if label == "now" else ""}><th scope="row">{label}</th><td>{what}</td>'
        + "".join(f'<td class="num" data-part="{part}">{number(series[part][index], 2)}</td>'
                  for part in ("interest", "intent", "negative", "total"))
        + "</tr>"
        for label, what, index in rows
    )
    return (
        '<details><summary>The plotted scores as a table</summary><table class="chart-data">'
        '<caption>Scores at each event and now</caption><thead><tr><th scope="col">Time</th>'
        '<th scope="col">Event</th><th scope="col">Interest</th><th scope="col">Intent</th>'
        '<th scope="col">Negative</th><th scope="col">Total</th></tr></thead>'
        f'<tbody>{body}</tbody></table></details>'
    )


def _contributions(lead: dict[str, Any], model: ScoringModel) -> str:
    rows = []
    for c in lead["contributions"]:
        rule = model.signals.get(c["signal"])
        component = rule.component.value if rule else "—"
        cap = number(rule.cap) if rule and rule.cap is not None else "—"
        rows.append(
            f'<tr><th scope="row">{escape(c["signal"])}</th><td>{escape(component)}</td><td class="num">{c["count"]}'
            f'</td><td>{when(c["last_at"])}</td><td class="num">{cap}</td>'
            f'<td class="num">{number(c["points_now"], 2)}</td></tr>'
        )
    score = lead["score"]
    totals = "".join(
        f'<tr><th scope="row" colspan="5">{label}</th><td class="num">{number(score[part], 2)}</td></tr>'
        for label, part in (("Interest", "interest"), ("Intent", "intent"), ("Negative (subtracted)", "negative"),
                            ("Total", "total"))
    )
    return (
        '<table class="contributions"><caption>What makes the score now: points per signal after decay and '
        'caps</caption><thead><tr><th scope="col">Signal</th><th scope="col">Component</th>'
        '<th scope="col">Events</th><th scope="col">Last</th><th scope="col">Cap</th>'
        '<th scope="col">Points now</th></tr></thead>'
        f'<tbody>{"".join(rows) or "<tr><td colspan=6>No scored signals yet</td></tr>"}</tbody>'
        f'<tfoot>{totals}</tfoot></table>'
    )


def _account(lead: dict[str, Any]) -> str:
    profile = "".join(f'<tr><th scope="row">{escape(field)}</th><td>{escape(str(value))}</td></tr>'
                      for field, value in sorted(lead["profile"].items()))
    fit = "".join(f'<tr><th scope="row">{escape(r["match"])}</th><td class="num">{number(r["points"])}</td></tr>'
                  for r in lead["fit_reasons"])
    return (
        f'<p>Company domain: <strong>{escape(lead["account"] or "unknown")}</strong></p>'
        f'<table class="profile"><caption>Profile</caption><tbody>{profile or "<tr><td>Nothing known yet</td></tr>"}'
        '</tbody></table>'
        f'<table class="fit"><caption>Fit ({number(lead["score"]["fit"], 0)} of 100)</caption>'
        '<thead><tr><th scope="col">Matched</th><th scope="col">Points</th></tr></thead>'
        f'<tbody>{fit or "<tr><td colspan=2>Nothing matched the ideal customer profile</td></tr>"}</tbody></table>'
    )


def _timeline(document: dict[str, Any]) -> str:
    entries = []
    for e in document["events"]:
        if e["signal"]:
            what = f'{escape(e["signal"])}'
            detail = f'{escape(e["component"] or "")} +{number(e["points"])} points'
        elif e["answers"]:
            what = "criteria answered"
            detail = ", ".join(f"{escape(c)} {escape(STATUS_TEXT.get(s, s))}" for c, s in e["answers"].items())
        else:
            what = "profile"
            detail = "stated " + escape(", ".join(e["profile_fields"])) if e["profile_fields"] else ""
        if e["signal"] and e["answers"]:
            detail += "; answered " + ", ".join(f"{escape(c)} {escape(STATUS_TEXT.get(s, s))}"
                                               for c, s in e["answers"].items())
        entries.append((e["t"], 0, "event", e["at"], what, detail))
    for m in document["moves"]:
        what = f'{escape(m["from_stage"].upper())} → {escape(m["to_stage"].upper())}'
        if m["from_temperature"] != m["to_temperature"]:
            what += f', {badge(m["from_temperature"])} → {badge(m["to_temperature"])}'
        detail = f'score {number(m["score_total"], 2)}' + (f' · by {escape(m["cause"])}' if m["cause"] != "event" else "")
        entries.append((m["t"], 1, "move", m["at"], what, detail))
    entries.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    rows = "".join(f'<tr class="{kind}"><td>{when(at)}</td><td>{"Stage change" if kind == "move" else "Event"}</td>'
                   f'<td>{what}</td><td>{detail}</td></tr>' for _, _, kind, at, what, detail in entries)
    older = (f'<p class="muted">{document["folded_events"]} older events are not listed (they still count in the '
             'score).</p>' if document["folded_events"] else "")
    return (
        '<table class="timeline" id="timeline"><caption>Events and stage changes, newest first</caption>'
        '<thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">What</th>'
        f'<th scope="col">Detail</th></tr></thead><tbody>{rows}</tbody></table>{older}'
    )


# --- signing in and errors --------------------------------------------------------------------

def login_page(next_path: str, failed: bool) -> str:
    error = ('<p class="warning" role="alert">That token is not right.</p>' if failed else "")
    return page("Sign in", main=(
        '<h1>Sign in to the lead board</h1>'
        '<p>This board needs the API token (<code>LEADSTREAM_API_TOKEN</code>).</p>'
        f'{error}<form method="post" action="/board/login" class="login">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label for="token">API token</label> <input id="token" name="token" type="password" required '
        'autocomplete="current-password"> <button type="submit">Sign in</button></form>'
    ))


def message_page(title: str, message: str) -> str:
    return page(title, main=f"<h1>{escape(title)}</h1><p>{escape(message)}</p><p><a href=\"/board\">Back to the "
                            "board</a></p>")
