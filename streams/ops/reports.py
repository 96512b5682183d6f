"""Plain-text reports of `leadstream report`, `replay` and `calibrate`: tables a person reads."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import Enum

from scoring import QualificationChange, ScoringModel, Stage, Temperature
from scoring.calibration import Calibration
from scoring.outcomes import Conversion, Counts, StageVerdict, hot_verdict, stage_verdict
from scoring.replay import Replay
from scoring.revisit import REVISIT
from streams.contracts.encoding import iso_time

ALERT_TEMPERATURES = frozenset({Temperature.HOT})  # `leadstream alerts`' defaults (streams/alerting/rules.py)
ALERT_STAGES = frozenset({Stage.SQL})


def would_alert(change: QualificationChange) -> bool:
    """Whether `leadstream alerts` with its default rule would tell sales about ``change``."""
    if change.to_stage is Stage.DISQUALIFIED or change.disqualified_by:
        return False
    return ((change.to_temperature in ALERT_TEMPERATURES and change.from_temperature not in ALERT_TEMPERATURES)
            or (change.to_stage in ALERT_STAGES and change.from_stage not in ALERT_STAGES))


def percent(part: int, whole: int) -> str:
    return f"{part}/{whole} = {100.0 * part / whole:.1f}%" if whole else f"{part}/{whole} = n/a"


def _rate(counts: Counts) -> str:
    return "n/a" if counts.win_rate is None else f"{100.0 * counts.win_rate:.1f}%"


def conversion_report(conversion: Conversion, title: str) -> str:
    lines = [title, f"{'':28}{'opportunities':>14}{'won':>8}{'lost':>8}{'win rate':>10}"]

    def row(label: str, counts: Counts) -> None:
        lines.append(f"{label:28}{counts.opportunities:>14}{counts.won:>8}{counts.lost:>8}{_rate(counts):>10}")

    row("all outcomes", conversion.overall)
    for heading, table in (("stage held", conversion.by_stage), ("hottest temperature", conversion.by_temperature),
                           ("signal shown", conversion.by_signal)):
        lines.append(f"by {heading}:")
        for key, counts in table.items():
            row(f"  {key.value if isinstance(key, Enum) else key}", counts)  # a signal is a plain name
    lines.append("win rate = won / (won + lost); a lead counts under every stage it held and signal it showed.")
    return "\n".join(lines)


def _per_stage(replayed: Replay) -> Counter[Stage]:
    return Counter(state.stage for state in replayed.states.values())


def side_by_side(live: Replay, candidate: Replay, live_model: ScoringModel, candidate_model: ScoringModel) -> str:
    width = max(len(live_model.version) + 5, len(candidate_model.version) + 10, 16)
    lines = [f"{'':42}{'live ' + live_model.version:>{width}}   {'candidate ' + candidate_model.version:>{width}}"]

    def row(label: str, left: object, right: object) -> None:
        lines.append(f"{label:42}{str(left):>{width}}   {str(right):>{width}}")

    stages_live, stages_candidate = _per_stage(live), _per_stage(candidate)
    for stage in Stage:
        row(f"leads {stage.value}", stages_live[stage], stages_candidate[stage])
    temperatures_live = Counter(s.temperature for s in live.states.values())
    temperatures_candidate = Counter(s.temperature for s in candidate.states.values())
    for temperature in Temperature:
        row(f"leads {temperature.value}", temperatures_live[temperature], temperatures_candidate[temperature])
    row("qualification changes", len(_moves(live)), len(_moves(candidate)))
    row("revisits due", len(live.changes) - len(_moves(live)),
        len(candidate.changes) - len(_moves(candidate)))
    row("alerts that would have fired (hot, sql)", sum(map(would_alert, live.changes)),
        sum(map(would_alert, candidate.changes)))
    # Hot is the model's call; SQL is mostly sales' (acceptance, a CRM opportunity), shown for what it is.
    for left, right in ((hot_verdict(live.outcomes), hot_verdict(candidate.outcomes)),
                        *((stage_verdict(live.outcomes, stage), stage_verdict(candidate.outcomes, stage))
                          for stage in (Stage.MQL, Stage.SQL))):
        row(f"{left.reached} precision (won among them)", _precision(left), _precision(right))
        row(f"{left.reached} recall (won deals reaching it)", _recall(left), _recall(right))
    return "\n".join(lines)


def _moves(replayed: Replay) -> list[QualificationChange]:
    """The changes that moved a stage or temperature: a revisit moves neither."""
    return [change for change in replayed.changes if change.cause != REVISIT]


def _precision(verdict: StageVerdict) -> str:
    return percent(verdict.won_reached, verdict.won_reached + verdict.lost_reached)


def _recall(verdict: StageVerdict) -> str:
    return percent(verdict.won_reached, verdict.won_reached + verdict.won_missed)


def calibration_report(calibration: Calibration) -> str:
    live, proposed = calibration.live, calibration.proposed
    lines = [
        f"fitted on {calibration.trained_on} deals closed before {iso_time(calibration.split_at)}; held out the"
        f" {calibration.held_out} closed since (measured there only)",
        f"{'signal':24}{'points now':>12}{'candidate':>12}{'log-odds of a win per occurrence':>36}",
    ]
    for kind, (now, new) in sorted(calibration.points.items(), key=lambda item: -calibration.coefficients[item[0]]):
        lines.append(f"{kind:24}{now:>12g}{new:>12g}{calibration.coefficients[kind]:>+36.3f}")
    for name, (now_rung, new_rung) in calibration.rungs.items():
        lines.append(f"threshold {name}: promote {now_rung.promote:g} → {new_rung.promote:g},"
                     f" demote {now_rung.demote:g} → {new_rung.demote:g}")
    lines += [
        ("expected lift on the held-out deals, each model replayed over them (hot before the deal closed:"
         " the model's call; SQL is sales' and the same under both):"),
        f"  hot precision  {_precision(live)}  →  {_precision(proposed)}"
        + (f"  ({100.0 * calibration.precision_lift:+.1f}%)" if calibration.precision_lift is not None else ""),
        f"  hot recall     {_recall(live)}  →  {_recall(proposed)}",
        f"  won deals that were hot first: {live.won_reached} → {proposed.won_reached}",
    ]
    if not _better(live, proposed):
        lines.append("  the candidate does not beat the live model on both precision and won deals reached:"
                     " keep the live one unless the trade is worth it")
    return "\n".join(lines)


def _better(live: StageVerdict, proposed: StageVerdict) -> bool:
    return (proposed.precision or 0.0) >= (live.precision or 0.0) and proposed.won_reached >= live.won_reached and (
        (proposed.precision or 0.0) > (live.precision or 0.0) or proposed.won_reached > live.won_reached)


def candidate_header(calibration: Calibration, made_at: float) -> str:
    live, proposed = calibration.live, calibration.proposed
    return (
        f"# Candidate written by `leadstream calibrate` at {iso_time(made_at)}"
        f" from model {calibration.current.version}:\n"
        f"# fitted on {calibration.trained_on} deals closed before {iso_time(calibration.split_at)},"
        f" measured on the {calibration.held_out} closed since:\n"
        f"# hot precision {_precision(live)} -> {_precision(proposed)},"
        f" recall {_recall(live)} -> {_recall(proposed)}.\n"
    )


def model_diff(current_text: str, candidate_text: str, current_name: str, candidate_name: str) -> str:
    return "".join(difflib.unified_diff(current_text.splitlines(keepends=True),
                                        candidate_text.splitlines(keepends=True), current_name, candidate_name))


def count_line(counted: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counted))


def history_line(records: Sequence[object], rejected: int, erased: int, source: str) -> str:
    return (f"history: {len(records)} records from {source}"
            + (f"; {rejected} unreadable (dead-lettered live)" if rejected else "")
            + (f"; {erased} erased leads skipped" if erased else ""))
