"""The terminal view of ``leadstream dev``: qualification changes as they happen, the alerts, and the funnel.

``ChangeTally`` keeps what the run saw (transitions by cause for the summary, the hot leads, the
recent changes); a view shows it. On a terminal the view is a panel that updates in place
(streams/devtools/live_panel.py, which picks the view); anywhere else (a pipe, CI) it is plain
lines, one per change.
Timed changes (decay, inactivity, ...) are marked: on a fast clock they are what the demo is for.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TextIO

import orjson

from scoring.stages import FUNNEL_ORDER, Temperature
from streams.alerting.change import decode_change
from streams.alerting.errors import UnreadableChange
from streams.alerting.message import console_text
from streams.alerting.rules import AlertRule, promotion
from streams.config.clock import Clock
from streams.contracts.change_records import QUALIFICATION_CHANGE, TIMED_CAUSES

COLOURS = {"hot": "\033[1;31m", "warm": "\033[33m", "cold": "\033[36m"}
RESET = "\033[0m"
RECENT_CHANGES = 200  # at most what a terminal shows beneath the panel
DAY_S = 86_400.0


@dataclass(frozen=True)
class Seen:
    """One change as the view shows it."""

    document: dict[str, Any]
    cause: str
    at_s: float  # wall seconds since the run started
    demo_day: float | None  # the change's own time, in days of demo time since traffic began (fast clocks)
    alert: str | None  # what `leadstream alerts` would print for it (its default rule), or None

    @property
    def timed(self) -> bool:
        return self.cause in TIMED_CAUSES


class ChangeTally:
    """What the run saw on leads.qualification, each change once (a re-emitted one has the same id)."""

    def __init__(self, clock: Clock, started_at: float, alert_rule: AlertRule = AlertRule()) -> None:
        self.clock, self.started_at, self.alert_rule = clock, started_at, alert_rule
        self.stage_transitions: Counter[str] = Counter()
        self.temperature_transitions: Counter[str] = Counter()
        self.by_cause: Counter[str] = Counter()  # changes that moved a stage or a temperature, by cause
        self.temperature_by_cause: dict[str, Counter[str]] = {}
        self.stage_by_cause: dict[str, Counter[str]] = {}
        self.changes_seen: set[str] = set()
        self.alerts = 0
        self.hot: dict[str, dict[str, Any]] = {}  # lead id → its latest change, while it is hot
        self.recent: deque[Seen] = deque(maxlen=RECENT_CHANGES)

    def record(self, raw: bytes) -> Seen | None:
        change = orjson.loads(raw)
        if change.get("kind") != QUALIFICATION_CHANGE or change["change_id"] in self.changes_seen:
            return None  # a re-emitted change is shown and counted once; a revisit moves nothing
        self.changes_seen.add(change["change_id"])
        cause = (change.get("cause") or {}).get("type", "event")
        stage = f"{change['from_stage']}→{change['to_stage']}"
        temperature = f"{change['from_temperature']}→{change['to_temperature']}"
        if change["from_stage"] != change["to_stage"]:
            self.stage_transitions[stage] += 1
            self.stage_by_cause.setdefault(cause, Counter())[stage] += 1
        if change["from_temperature"] != change["to_temperature"]:
            self.temperature_transitions[temperature] += 1
            self.temperature_by_cause.setdefault(cause, Counter())[temperature] += 1
        if change["from_stage"] != change["to_stage"] or change["from_temperature"] != change["to_temperature"]:
            self.by_cause[cause] += 1
        if change["to_temperature"] == Temperature.HOT.value:
            self.hot[change["lead_id"]] = change
        else:
            self.hot.pop(change["lead_id"], None)
        seen = Seen(change, cause, time.time() - self.started_at, self._demo_day(change), self._alert(raw))
        self.alerts += seen.alert is not None
        self.recent.append(seen)
        return seen

    def _alert(self, raw: bytes) -> str | None:
        try:
            change = decode_change(raw)
        except UnreadableChange:
            return None  # the alerts consumer would skip it too (and log it)
        entered = promotion(change, self.alert_rule)
        return console_text(change, entered) if entered is not None else None

    def _demo_day(self, change: dict[str, Any]) -> float | None:
        if self.clock.kind != "scaled" or not change.get("event_time"):
            return None
        began = self.clock.at_wall(self.started_at)  # the day traffic began is day 0
        return (datetime.fromisoformat(change["event_time"]).timestamp() - began) / DAY_S

    def summary(self) -> dict[str, Any]:
        def nested(table: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
            return {cause: dict(sorted(counts.items())) for cause, counts in sorted(table.items())}

        return {
            "stage": dict(sorted(self.stage_transitions.items())),
            "temperature": dict(sorted(self.temperature_transitions.items())),
            "by_cause": dict(sorted(self.by_cause.items())),
            "temperature_by_cause": nested(self.temperature_by_cause),
            "stage_by_cause": nested(self.stage_by_cause),
        }


def change_line(seen: Seen, paint: Any = str) -> str:
    """One change on one line: when, who, what moved, why; ``paint`` colours a temperature."""
    change = seen.document
    stage = f"{change['from_stage']}→{change['to_stage']}"
    reasons = ", ".join(f"{r['signal']} {r['points_now']:.0f}" for r in change["reasons"])
    met = sum(status == "met" for status in change["criteria"].values())
    why = f"out of market: {', '.join(change['disqualified_by'])}" if change["disqualified_by"] else reasons
    when = f"{seen.at_s:6.1f}s" + (f" day {seen.demo_day:5.1f}" if seen.demo_day is not None else "")
    mark = f"[{seen.cause}]" if seen.timed else ""
    return (f"{when} {mark:<12} {change['lead_id'][:24]:<24} {(change['account'] or '-')[:14]:<14} {stage:<17} "
            f"{paint(change['from_temperature'])}→{paint(change['to_temperature'])}"
            f"  {change.get('grade') or '--'}  score {change['score']['total']:5.1f} fit {change['score']['fit']:3.0f}"
            f" {change['framework'].upper()} {met}/{len(change['criteria'])}  {why}")


@dataclass
class Rate:
    """Events sent per second between two looks at the count."""

    last_count: int = 0
    last_at: float = 0.0
    per_second: float = 0.0

    def update(self, count: int, at: float) -> float:
        if self.last_at and at > self.last_at:
            self.per_second = (count - self.last_count) / (at - self.last_at)
        self.last_count, self.last_at = count, at
        return self.per_second


def funnel_text(stats: dict[str, Any]) -> tuple[str, str]:
    stages, temps = stats.get("leads_per_stage", {}), stats.get("leads_per_temperature", {})
    return (" · ".join(f"{stage.value} {stages.get(stage.value, 0)}" for stage in FUNNEL_ORDER),
            " · ".join(f"{t.value} {temps.get(t.value, 0)}" for t in Temperature))


class View(Protocol):
    tally: ChangeTally
    funnel_every_s: float  # how often dev asks the worker for the funnel to show

    def on_change(self, raw: bytes) -> None: ...

    def show_funnel(self, stats: dict[str, Any], accounting: dict[str, Any], events_sent: int) -> None: ...

    def close(self) -> None: ...


class PlainView:
    """A line per change, the alert it makes under it, and the funnel now and then: for pipes and logs."""

    funnel_every_s = 5.0

    def __init__(self, tally: ChangeTally, out: TextIO = sys.stdout) -> None:
        self.tally, self.out = tally, out
        self.colour = out.isatty()
        self.rate = Rate()

    def _paint(self, temperature: str) -> str:
        return f"{COLOURS[temperature]}{temperature}{RESET}" if self.colour else temperature

    def on_change(self, raw: bytes) -> None:
        seen = self.tally.record(raw)
        if seen is None:
            return
        print(change_line(seen, self._paint), file=self.out, flush=True)
        if seen.alert is not None:
            print(seen.alert, file=self.out, flush=True)

    def show_funnel(self, stats: dict[str, Any], accounting: dict[str, Any], events_sent: int) -> None:
        funnel, heat = funnel_text(stats)
        rate = self.rate.update(events_sent, time.time())
        print(
            f"── funnel: {funnel} | {heat} | sent {events_sent} ({rate:.0f}/s), scored {accounting.get('scored', 0)},"
            f" ignored {accounting.get('ignored', 0)}, dead-lettered {accounting.get('dead_lettered', 0)},"
            f" held {accounting.get('held', 0)}",
            file=self.out, flush=True,
        )

    def close(self) -> None:
        pass
