"""Continuous improvement: report outcomes, replay history under a candidate model, calibrate one
from won and lost deals, export history. The I/O around the pure core (docs/scoring-model.md, "Calibration").

The live model these compare against is the one the workers score with: the latest applied on
leads.control, else LEADSTREAM_MODEL's (or the shipped default); with --history files and no
--current, LEADSTREAM_MODEL's, and no broker is contacted at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from aiokafka import AIOKafkaProducer

from scoring import QualificationChange, ScoringModel, load_model, parse_model
from scoring.calibration import Options, calibrate
from scoring.model_loading import default_model_text
from scoring.outcomes import conversion
from scoring.replay import replay
from streams.contracts import change_records, encoding
from streams.ops import reports
from streams.config.environment import settings
from streams.errors import HistoryError
from streams.private_files import write_private
from streams.ops.recorded_events import EventHistory, export_lines, read_jsonl, read_topics
from streams.contracts.control_records import latest_applied
from streams.contracts.topics import REPLAY_QUALIFICATION


@dataclass(frozen=True)
class LiveModel:
    model: ScoringModel
    text: str
    source: str


def parse_until(value: str | None) -> float:
    if not value:
        return time.time()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError(f"--until: expected an ISO 8601 time, got {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


async def load_history(files: Sequence[str]) -> EventHistory:
    return read_jsonl([Path(f) for f in files]) if files else await read_topics(settings())


async def live_model(files: Sequence[str], current: str | None) -> LiveModel:
    if current:
        return _from_file(Path(current))
    if not files:
        applied, _ = await latest_applied(settings())
        if applied is not None:
            return LiveModel(applied.model, applied.text, f"applied on leads.control at {applied.applied_at}")
    path = settings().model_path
    return _from_file(path) if path else LiveModel(load_model(), default_model_text(), "the shipped default")


def _from_file(path: Path) -> LiveModel:
    model = load_model(path)  # validates, with errors naming the field
    return LiveModel(model, path.read_text("utf-8"), str(path))


async def run_report(files: Sequence[str], current: str | None, until: str | None) -> str:
    history, live = await load_history(files), await live_model(files, current)
    records, rejected = history.decoded(settings().max_event_bytes, settings().consent)
    replayed = replay(records, live.model, parse_until(until), history.erased, settings().hold_limits())
    return "\n".join([
        reports.history_line(records, rejected, len(history.erased), history.source),
        reports.conversion_report(conversion(replayed.outcomes),
                                  f"outcomes joined to stage history under model {live.model.version} ({live.source})"),
    ])


async def run_replay(candidate_path: str, files: Sequence[str], current: str | None, until: str | None,
                     output_topic: str | None) -> str:
    candidate = load_model(candidate_path)
    history, live = await load_history(files), await live_model(files, current)
    records, rejected = history.decoded(settings().max_event_bytes, settings().consent)
    moment = parse_until(until)
    live_run = replay(records, live.model, moment, history.erased, settings().hold_limits())
    candidate_run = replay(records, candidate, moment, history.erased, settings().hold_limits())
    lines = [
        reports.history_line(records, rejected, len(history.erased), history.source),
        f"replayed on the events' own clock; demotions due up to {encoding.iso_time(moment)} applied;"
        f" live model from {live.source}",
        reports.side_by_side(live_run, candidate_run, live.model, candidate),
    ]
    if output_topic:
        await write_changes(output_topic, candidate_run.changes)
        lines.append(f"the candidate's {len(candidate_run.changes)} changes: written to {output_topic}")
    if live.model.half_life_seconds != candidate.half_life_seconds:
        lines.append("its half-lives differ from the live model's: `leadstream model apply` cannot switch to it"
                     " in place; run workers with it under a new LEADSTREAM_APP_ID to rebuild state from history")
    return "\n".join(lines)


def default_output_topic() -> str:
    return settings().topic_prefix + REPLAY_QUALIFICATION


async def write_changes(topic: str, changes: Sequence[QualificationChange]) -> None:
    from streams.contracts.topic_admin import ensure_topics

    config = settings()
    await ensure_topics(config, extra=(topic,))  # --output-topic may name one of the user's own
    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap_servers, linger_ms=20,
                                **config.security.client_kwargs())
    await producer.start()
    try:
        now = time.time()
        for change in changes:
            await producer.send(topic, change_records.encode_change(change, now, None), key=change.lead_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def run_calibrate(output: str, files: Sequence[str], current: str | None, holdout: float, l2: float,
                        fit_thresholds: bool) -> str:
    history, live = await load_history(files), await live_model(files, current)
    records, rejected = history.decoded(settings().max_event_bytes, settings().consent)
    calibration = calibrate(records, live.model, live.text,
                            Options(holdout=holdout, l2=l2, fit_thresholds=fit_thresholds), history.erased, settings().hold_limits())
    text = reports.candidate_header(calibration, time.time()) + calibration.candidate_text
    parse_model(text, source=output)  # what is written must load
    Path(output).write_text(text, "utf-8")
    return "\n".join([
        reports.history_line(records, rejected, len(history.erased), history.source),
        f"live model {live.model.version} ({live.source})",
        reports.calibration_report(calibration),
        f"wrote {output} (version {calibration.candidate.version}); its diff against the live model:",
        reports.model_diff(live.text, text, f"live ({live.model.version})", output),
        f"next: leadstream replay --model {output}; then leadstream model apply {output}",
    ])


async def run_export(output: str) -> str:
    config = settings()
    history = await read_topics(config)
    lines, counts = export_lines(history, config.max_event_bytes, time.time(), config.consent)
    write_private(output, b"\n".join(lines) + b"\n")  # personal data: 0600
    return (f"exported {counts['events']} events and {counts['feedback']} sales verdicts to {output};"
            f" left out {counts['erased_left_out']} records of erased leads and"
            f" {counts['unreadable_left_out']} unreadable ones (dead-lettered live)"
            + (f"; {counts['no_consent_left_out']} without consent" if counts["no_consent_left_out"] else ""))
