"""What an alert says: Slack-compatible JSON (``text`` plus Block Kit ``blocks``) and a console rendering.

Both come from the same decoded change and promotion, so a webhook receiver and someone
reading the console see the same facts: who, how hot, why, and the criteria checklist.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scoring import Status
from streams.alerting.change import Change
from streams.alerting.rules import Promotion
from streams.log_redaction import lead_ref

CRITERION_MARKS = {Status.MET: "✓", Status.NOT_MET: "✗", Status.UNKNOWN: "?"}
TOP_REASONS = 5
# Block Kit limits: a header's text, a section's text, and each field of a section.
_HEADER_LIMIT, _SECTION_LIMIT, _FIELD_LIMIT = 150, 3000, 2000


def headline(change: Change, promotion: Promotion) -> str:
    entered = []
    if promotion.temperature is not None:
        entered.append(f"turned {promotion.temperature.value}")
    if promotion.stage is not None:
        entered.append(f"reached {promotion.stage.value.upper()}")
    return f"Lead {change.lead_id} ({change.account or 'unknown company'}) " + " and ".join(entered)


def score_line(change: Change) -> str:
    score = change.score
    return (f"{score.total:.1f} (interest {score.interest:.1f}, intent {score.intent:.1f},"
            f" negative {score.negative:.1f})")


def grade_words(change: Change) -> str:
    """``grade A1, `` to lead the score with; nothing for a change from a worker that predates grades."""
    return f"grade {change.grade}, " if change.grade else ""


def reason_lines(change: Change) -> list[str]:
    return [f"{reason.signal} {reason.points_now:.1f} pts now (×{reason.count})"
            for reason in change.reasons[:TOP_REASONS]]


def criteria_marks(change: Change) -> str:
    return "  ".join(f"{CRITERION_MARKS[status]} {name}" for name, status in change.criteria)


def slack_message(change: Change, promotion: Promotion) -> dict[str, Any]:
    """A Slack incoming-webhook payload; ``text`` is the notification fallback."""
    reasons = reason_lines(change)
    fit = f"{change.score.fit:.0f} / 100"
    if change.fit_reasons:
        fit += "\n" + ", ".join(f"{_escape(match)} {points:+.0f}" for match, points in change.fit_reasons)
    text = (f"{headline(change, promotion)}: {grade_words(change)}score {change.score.total:.1f},"
            f" fit {change.score.fit:.0f}" + (f"; {', '.join(reasons[:3])}" if reasons else ""))
    framework = (change.framework or "criteria").upper()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(_header(change, promotion), _HEADER_LIMIT),
                                    "emoji": True}},
        {"type": "section", "fields": [
            _field("Lead", f"`{_escape(change.lead_id)}`"),
            _field("Company", _escape(change.account or "unknown")),
            _field("Stage", f"{change.from_stage.value} → {change.to_stage.value}"),
            _field("Temperature", f"{change.from_temperature.value} → {change.to_temperature.value}"),
            _field("Score", score_line(change)),
            _field("Fit", fit),
            *([_field("Grade", change.grade)] if change.grade else []),
        ]},
        _section("*Top reasons*\n" + ("\n".join(f"• {_escape(line)}" for line in reasons) or "none recorded")),
        _section(f"*{_escape(framework)}*\n" + (_escape(criteria_marks(change)) or "no criteria")),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
            f"model {_escape(change.model_version)} · change `{change.change_id}`"
            + (f" · event time {change.event_time}" if change.event_time else ""), _SECTION_LIMIT)}]},
    ]
    return {"text": _escape(text), "blocks": blocks}


def console_text(change: Change, promotion: Promotion) -> str:
    """The alert as a few plain lines for a terminal or a log: the lead named by its tag (streams/log_redaction.py)."""
    change = replace(change, lead_id=lead_ref(change.lead_id))
    lines = [
        f"ALERT  {headline(change, promotion)}",
        f"  {change.from_stage.value}→{change.to_stage.value}  {change.from_temperature.value}→"
        f"{change.to_temperature.value}  " + (f"grade {change.grade}  " if change.grade else "")
        + f"score {score_line(change)}  fit {change.score.fit:.0f}",
        "  reasons: " + ("; ".join(reason_lines(change)) or "none recorded"),
        f"  {change.framework or 'criteria'}: " + (criteria_marks(change) or "none"),
        f"  model {change.model_version}  change {change.change_id}",
    ]
    return "\n".join(lines)


def _header(change: Change, promotion: Promotion) -> str:
    return ("🔥 " if promotion.temperature is not None else "🎯 ") + headline(change, promotion)


def _field(title: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _cut(f"*{title}*\n{value}", _FIELD_LIMIT)}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SECTION_LIMIT)}}


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn and text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
