"""The terminal view of ``leadstream dev``: qualification changes as they happen, and the funnel."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, TextIO

import orjson

from scoring.stages import FUNNEL_ORDER, Temperature

COLOURS = {"hot": "\033[1;31m", "warm": "\033[33m", "cold": "\033[36m"}
RESET = "\033[0m"


class LiveView:
    """Prints each change on one line and keeps the transition counts for the summary."""

    def __init__(self, out: TextIO = sys.stdout, started_at: float | None = None) -> None:
        self.out = out
        self.colour = out.isatty()
        self.started_at = started_at if started_at is not None else time.time()
        self.stage_transitions: Counter[str] = Counter()
        self.temperature_transitions: Counter[str] = Counter()
        self.changes_seen: set[str] = set()

    def _paint(self, temperature: str) -> str:
        return f"{COLOURS[temperature]}{temperature}{RESET}" if self.colour else temperature

    def on_change(self, raw: bytes) -> None:
        change = orjson.loads(raw)
        if change.get("kind") != "qualification_change" or change["change_id"] in self.changes_seen:
            return  # a re-emitted change (same id) is shown and counted once
        self.changes_seen.add(change["change_id"])
        stage = f"{change['from_stage']}→{change['to_stage']}"
        temperature = f"{change['from_temperature']}→{change['to_temperature']}"
        if change["from_stage"] != change["to_stage"]:
            self.stage_transitions[stage] += 1
        if change["from_temperature"] != change["to_temperature"]:
            self.temperature_transitions[temperature] += 1
        reasons = ", ".join(f"{r['signal']} {r['points_now']:.0f}" for r in change["reasons"])
        met = sum(status == "met" for status in change["criteria"].values())
        why = f"out of market: {', '.join(change['disqualified_by'])}" if change["disqualified_by"] else reasons
        elapsed = time.time() - self.started_at
        print(
            f"{elapsed:7.1f}s  {change['lead_id'][:24]:<24} {(change['account'] or '-')[:14]:<14} "
            f"{stage:<9} {self._paint(change['from_temperature'])}→{self._paint(change['to_temperature'])}"
            f"  {change.get('grade') or '--'}  score {change['score']['total']:5.1f} fit {change['score']['fit']:3.0f}"
            f" {change['framework'].upper()} {met}/{len(change['criteria'])}  {why}",
            file=self.out, flush=True,
        )

    def show_funnel(self, stats: dict[str, Any], accounting: dict[str, Any], events_sent: int) -> None:
        stages = stats.get("leads_per_stage", {})
        temps = stats.get("leads_per_temperature", {})
        funnel = " · ".join(f"{stage.value} {stages.get(stage.value, 0)}" for stage in FUNNEL_ORDER)
        heat = " · ".join(f"{t.value} {temps.get(t.value, 0)}" for t in Temperature)
        print(
            f"── funnel: {funnel} | {heat} | sent {events_sent}, scored {accounting.get('scored', 0)},"
            f" ignored {accounting.get('ignored', 0)}, dead-lettered {accounting.get('dead_lettered', 0)},"
            f" held {accounting.get('held', 0)}",
            file=self.out, flush=True,
        )
