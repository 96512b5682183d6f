"""`leadstream report --models` and the board's model page: the live and the shadow model side by side.

Each model's stage history is read back from what it emitted: the live one's from leads.qualification,
the shadow's from leads.qualification.shadow, preceded by the live history up to the moment the
shadow started (it starts from the live held state). CRM outcomes (the retained raw events) are
joined to both histories as they stood before the deal closed, so both are judged against the same
closed deals. Everything is counted over a chosen window of event time.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from scoring import LeadEvent, ScoringModel, Stage, Temperature
from scoring.kinds import DealOutcome
from scoring.outcomes import OutcomeJoin, hot_verdict, outcome_of, stage_verdict
from scoring.revisit import REVISIT
from streams.config.environment import Settings, settings
from streams.contracts.control_records import read_control
from streams.contracts.change_records import QUALIFICATION_CHANGE, REVISIT_DUE
from streams.contracts.encoding import iso_time
from streams.contracts.topics import QUALIFICATION, SHADOW_QUALIFICATION
from streams.errors import HistoryError
from streams.ops import reports
from streams.ops.improvement import live_model, load_history, parse_until
from streams.ops.recorded_events import read_whole

TEMPERATURE_ORDER = tuple(Temperature)


@dataclass(frozen=True)
class Move:
    """One change a model made, as read back from its topic (the names ``reports.would_alert`` reads)."""

    lead_id: str
    at: float  # its event time
    emitted_at: float
    from_stage: Stage
    to_stage: Stage
    from_temperature: Temperature
    to_temperature: Temperature
    model_version: str
    cause: str
    cause_event_id: str
    disqualified_by: tuple[str, ...]


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def move_from(record: dict[str, Any]) -> Move | None:
    """The move in a leads.qualification(.shadow) record; None for an erasure or anything else."""
    if record.get("kind") not in (QUALIFICATION_CHANGE, REVISIT_DUE):
        return None
    return Move(record["lead_id"], _seconds(record["event_time"]), _seconds(record["emitted_at"]),
                Stage(record["from_stage"]), Stage(record["to_stage"]), Temperature(record["from_temperature"]),
                Temperature(record["to_temperature"]), record["model_version"], record["cause"]["type"],
                record["cause"]["event_id"], tuple(record.get("disqualified_by") or ()))


@dataclass(frozen=True)
class Closing:
    """A CRM outcome: the deal the models are judged by."""

    lead_id: str
    event_id: str
    outcome: DealOutcome
    at: float


def closings_in(events: Iterable[object], model: ScoringModel) -> list[Closing]:
    found = []
    for event in events:
        if isinstance(event, LeadEvent) and (outcome := outcome_of(event, model)) is not None:
            found.append(Closing(event.lead_id, event.event_id, outcome, event.occurred_at))
    return found


def shadow_history(live: Sequence[Move], shadow: Sequence[Move], started_at: float) -> list[Move]:
    """The shadow's stage history: the live one until the shadow started from it, then its own."""
    return [move for move in live if move.emitted_at < started_at] + list(shadow)


def _distinct(moves: Iterable[Move]) -> list[Move]:
    """Each change once (a re-sent one keeps its lead, cause and event time), in event time."""
    seen = {(m.lead_id, m.cause_event_id, m.at, m.to_stage, m.to_temperature): m for m in moves}
    return sorted(seen.values(), key=lambda m: (m.at, m.emitted_at))


def joins(moves: Sequence[Move], closings: Sequence[Closing]) -> list[OutcomeJoin]:
    """Each outcome joined to the lead's history under one model as it stood before the outcome."""
    by_lead: dict[str, list[Move]] = defaultdict(list)
    for move in moves:
        by_lead[move.lead_id].append(move)
    joined = []
    for closing in sorted(closings, key=lambda c: c.at):
        before = [m for m in by_lead.get(closing.lead_id, ()) if m.at <= closing.at
                  and m.cause_event_id != closing.event_id]
        reached = frozenset({m.to_stage for m in before} | {m.from_stage for m in before})
        temperatures = [m.to_temperature for m in before]
        joined.append(OutcomeJoin(
            closing.lead_id, closing.event_id, closing.outcome, closing.at,
            before[-1].to_stage if before else None, before[-1].to_temperature if before else None,
            reached, max(temperatures, key=TEMPERATURE_ORDER.index) if temperatures else None, frozenset()))
    return joined


@dataclass(frozen=True)
class Column:
    """One model's figures over the window."""

    label: str
    per_stage: Counter[Stage]
    changes: int
    alerts: int
    verdicts: dict[str, tuple[str, str]]  # "mql" / "sql" / "hot" -> (precision, recall)


def column(label: str, history: Sequence[Move], closings: Sequence[Closing], since: float, until: float) -> Column:
    moves = [m for m in _distinct(history) if m.at <= until]
    latest: dict[str, Stage] = {}
    for move in moves:
        latest[move.lead_id] = move.to_stage
    windowed = [m for m in moves if m.at >= since and m.cause != REVISIT]
    joined = joins(moves, [c for c in closings if since <= c.at <= until])
    verdicts = {}
    for verdict in (stage_verdict(joined, Stage.MQL), stage_verdict(joined, Stage.SQL), hot_verdict(joined)):
        verdicts[verdict.reached] = (
            reports.percent(verdict.won_reached, verdict.won_reached + verdict.lost_reached),
            reports.percent(verdict.won_reached, verdict.won_reached + verdict.won_missed))
    return Column(label, Counter(latest.values()), len(windowed), sum(map(reports.would_alert, windowed)), verdicts)


def side_by_side(columns: Sequence[Column]) -> list[tuple[str, list[str]]]:
    """The rows both the report and the board show: a label, then one cell per model."""
    rows: list[tuple[str, list[str]]] = [("model", [c.label for c in columns])]
    rows += [(f"leads {stage.value} (at the window's end)", [str(c.per_stage[stage]) for c in columns])
             for stage in Stage]
    rows.append(("qualification changes", [str(c.changes) for c in columns]))
    rows.append(("alerts it would have sent (hot, sql)", [str(c.alerts) for c in columns]))
    for reached in ("mql", "sql", "hot"):
        rows.append((f"{reached} precision (won among closed deals reaching it)",
                     [c.verdicts[reached][0] for c in columns]))
        rows.append((f"{reached} recall (won deals reaching it)", [c.verdicts[reached][1] for c in columns]))
    return rows


def render(rows: Sequence[tuple[str, list[str]]], since: float, until: float) -> str:
    width = max(18, *(len(cell) + 2 for _, cells in rows for cell in cells))
    window = f"from {iso_time(since)}" if math.isfinite(since) and since > 0 else "from the oldest retained"
    lines = [f"window: {window} to {iso_time(until)} (event time)"]
    lines += [f"{label:52}" + "".join(f"{cell:>{width}}" for cell in cells) for label, cells in rows]
    lines.append("the shadow's history is the live one until it started, then its own; each closed deal is"
                 " judged against both as they stood before it closed")
    return "\n".join(lines)


async def read_moves(config: Settings, name: str) -> list[Move]:
    """Every retained change on the topic ``name`` (the contract's name); none if it does not exist."""
    moves = []
    for record in await read_whole(config, config.topic_prefix + name):
        if record.value and (move := move_from(orjson.loads(record.value))) is not None:
            moves.append(move)
    return moves




@dataclass(frozen=True)
class Comparison:
    """The live and the shadow model over a window: what the report prints and the board shows."""

    shadow_version: str
    running: bool  # the shadow runs now (else: its last run, switched off)
    started_at: float
    since: float
    until: float
    closings: int
    outcomes_source: str
    rows: list[tuple[str, list[str]]]

    def text(self) -> str:
        return "\n".join([f"shadow {self.shadow_version} ({'running now' if self.running else 'switched off'})"
                          f" started at {iso_time(self.started_at)}; outcomes from {self.outcomes_source},"
                          f" {self.closings} in all", render(self.rows, self.since, self.until)])


async def compare(config: Settings, files: Sequence[str] = (), current: str | None = None,
                  since: str | None = None, until: str | None = None) -> Comparison:
    """The live and the shadow model side by side over the window, from what each emitted."""
    history, live = await load_history(files), await live_model(files, current)
    records, _ = history.decoded(config.max_event_bytes, config.consent)
    closings = [c for c in closings_in(records, live.model) if c.lead_id not in history.erased]
    live_moves, shadow_moves = await read_moves(config, QUALIFICATION), await read_moves(config, SHADOW_QUALIFICATION)
    control = (await read_control(config)).shadow
    shadow = control.model if control is not None else None
    version = shadow.version if shadow is not None else max(
        shadow_moves, key=lambda m: m.emitted_at).model_version if shadow_moves else None
    if version is None:
        raise HistoryError("no shadow model has run: put one on with `leadstream model shadow FILE` first")
    own = [m for m in shadow_moves if m.model_version == version]
    started_at = (parse_until(control.applied_at) if shadow is not None and control is not None
                  else min((m.emitted_at for m in own), default=time.time()))
    # Its latest run only: an earlier one (switched off and on again) started its leads from other live states.
    own = [m for m in own if m.emitted_at >= started_at]
    start, end = parse_until(since) if since else started_at, parse_until(until)
    live_versions = ", ".join(sorted({m.model_version for m in live_moves if start <= m.at <= end})) \
        or live.model.version
    columns = [column(f"live {live_versions}", live_moves, closings, start, end),
               column(f"shadow {version}", shadow_history(live_moves, own, started_at), closings, start, end)]
    return Comparison(version, shadow is not None, started_at, start, end, len(closings), history.source,
                      side_by_side(columns))


async def run_model_report(files: Sequence[str], current: str | None, since: str | None, until: str | None) -> str:
    return (await compare(settings(), files, current, since, until)).text()
