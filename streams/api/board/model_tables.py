"""The board's scoring-model page: the active model as tables, one per part of the file."""

from __future__ import annotations

from html import escape
from typing import Any

from scoring import ScoringModel
from streams.api.board.pages import number, page


def _table(caption: str, headers: tuple[str, ...], rows: list[tuple[Any, ...]], table_id: str = "") -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + f'<th scope="row">{escape(str(row[0]))}</th>'
        + "".join(f"<td>{escape(str(cell))}</td>" for cell in row[1:]) + "</tr>"
        for row in rows
    )
    ident = f' id="{table_id}"' if table_id else ""
    return f'<table{ident}><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _days(seconds: float) -> str:
    return number(seconds / 86_400)


def _listed(values: Any) -> str:
    return ", ".join(sorted(str(v) for v in values)) or "—"


def model_page(model: ScoringModel, source: str) -> str:
    q, fit, dq, criteria = model.qualification, model.fit, model.disqualify, model.criteria
    signals = sorted(model.signals.values(), key=lambda r: (r.component.value, -r.points, r.kind))
    ladders = q.ladders
    sections = [
        _table("Half-lives: each component decays on its own", ("Component", "Half-life (days)"),
               [(c.value, _days(s)) for c, s in model.half_life_seconds.items()], "half-lives"),
        _table("Points per signal (a cap is the most a kind can add, after decay)",
               ("Signal", "Component", "Points", "Cap", "Half-life (days)"),
               [(r.kind, r.component.value, number(r.points), number(r.cap) if r.cap is not None else "—",
                 _days(model.half_life_of(r.kind))) for r in signals], "signals"),
        _table("Thresholds: climb at promote, fall back only below demote", ("Rung", "On", "Promote", "Demote"),
               [("MQL", "interest", number(ladders.mql.promote), number(ladders.mql.demote)),
                ("intent (hot)", "intent", number(ladders.sql.promote), number(ladders.sql.demote)),
                ("interest (hot)", "interest", number(ladders.hot.promote), number(ladders.hot.demote)),
                ("PQL", "product signals", number(ladders.pql.promote), number(ladders.pql.demote)),
                ("warm", "engagement: interest + intent − negative", number(ladders.warm.promote),
                 number(ladders.warm.demote))], "thresholds"),
        _table("Grade: a fit letter (A best) and an engagement digit (1 highest), each rung with the same hysteresis",
               ("Rung", "On", "Promote", "Demote"),
               [(name, on, number(rung.promote), number(rung.demote))
                for name, on, rung in (("A", "fit", model.grade.fit[1]), ("B", "fit", model.grade.fit[0]),
                                       ("1", "engagement", model.grade.engagement[1]),
                                       ("2", "engagement", model.grade.engagement[0]))], "grade"),
        _table("Temperature and product signals", ("Setting", "Value"),
               [("warm with a need and at most this many criteria missing", q.warm_max_missing),
                ("product signals (PQL)", _listed(q.product_signals)),
                ("SQL ends after this many weeks without activity", number(model.sales.inactivity_bound_s / 604_800)),
                ("a rejection holds back for (days)", number(model.sales.rejection_cooldown_s / 86_400)),
                ("... and until new intent reaches", number(model.sales.renewed_intent_minimum)),
                ("unknown fit counts as (per gate)",
                 ", ".join(f"{gate}: {policy}" for gate, policy in fit.unknown.items()))], "qualification"),
        _table(f"Criteria frameworks (active: {criteria.framework.name})", ("Framework", "Criteria", "Need", "Active"),
               [(f.name, ", ".join(f.criteria), f.need, "yes" if f.name == criteria.framework.name else "")
                for f in criteria.frameworks.values()], "frameworks"),
        _table("Form fields that answer a criterion", ("Field", "Criterion"),
               sorted(criteria.answer_fields.items()), "answer-fields"),
        _table(f"Fit: the profile against the ideal customer profile (MQL needs at least {number(fit.mql_minimum)})",
               ("Part", "Points", "Matches"),
               [("industry", number(fit.industry_points), _listed(fit.industries)),
                ("company size", number(fit.size_points), f"{fit.size_min}–{fit.size_max} employees"),
                ("country", number(fit.country_points), _listed(fit.countries)),
                ("free-mail domain", f"−{number(fit.free_mail_penalty)}", _listed(fit.free_mail_domains))], "fit"),
        _table("Job titles (first match wins)", ("Pattern", "Points", "Role"),
               [(t.pattern.pattern, number(t.points), t.role) for t in fit.titles], "titles"),
        _table("Out of market: any of these disqualifies", ("Rule", "Value"),
               [("competitor domains", _listed(dq.competitor_domains)), ("student domains", _listed(dq.student_domains)),
                ("countries", _listed(dq.countries)), ("fewer employees than", dq.min_employees),
                ("signals", _listed(dq.signals)),
                ("careers-only page views after", dq.careers_only_after)], "disqualify"),
        _table("Track events and the signal each counts as", ("Event name (normalised)", "Signal"),
               sorted(model.track_events.items()), "events"),
        _table("Page paths (longest prefix wins)", ("Path prefix", "Signal"),
               [(rule.prefix, rule.kind) for rule in model.page_rules]
               + [("(any other page)", model.default_page_kind)], "pages"),
        _table("Other settings", ("Setting", "Value"),
               [("CRM outcomes (calibration only, never scored)", _listed(model.outcome_events)),
                ("dedupe window (event ids per lead)", model.dedupe_window),
                ("top reasons per explanation", model.top_reasons)], "other"),
    ]
    return page(f"Scoring model {model.version}", current="model", main=(
        f'<h1>Scoring model <span id="model-version">{escape(model.version)}</span></h1>'
        f'<p>From {escape(source)} · criteria framework <strong>{escape(criteria.framework.name.upper())}</strong> · '
        '<a href="/board/model.toml">the file as written</a> · '
        '<a href="/board/model/shadow">beside the shadow model</a></p>'
        + "".join(f"<section>{section}</section>" for section in sections)
    ))


def shadow_page(comparison: Any | None, since: str, until: str, problem: str | None = None) -> str:
    """The live and the shadow model side by side over a window (streams/ops/model_comparison.py's Comparison)."""
    form = ('<form method="get" action="/board/model/shadow"><label>from <input name="since" type="text" value="'
            f'{escape(since)}" placeholder="when the shadow started"></label> <label>to <input name="until"'
            f' type="text" value="{escape(until)}" placeholder="now"></label> <button>show</button></form>')
    if comparison is None:
        body = f"<p>{escape(problem or 'no shadow model has run')}</p>"
    else:
        (_, labels), *rows = comparison.rows
        status = "running now" if comparison.running else "switched off"
        body = (f'<p>Shadow <strong id="shadow-version">{escape(comparison.shadow_version)}</strong> ({status}),'
                f" {comparison.closings} closed deals and opportunities in the outcomes.</p>"
                + _table("Each model over the window: the shadow's history is the live one until it started",
                         ("", *labels), [(label, *cells) for label, cells in rows], "shadow-comparison"))
    return page("Live and shadow model", current="model", main=(
        "<h1>Live and shadow model</h1>" + form + f"<section>{body}</section>"))
