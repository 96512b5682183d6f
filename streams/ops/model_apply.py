"""`leadstream model apply` and `model show`: publishing a model to every running worker, and what each one runs.

Both read leads.control whole: the applied model, and the report each running worker keeps there
(its model version, content digest and source; streams/worker/model_report.py). The workers' side
of a switch is streams/worker/model_rollout.py; the records are streams/contracts/control_records.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from scoring import ScoringError, ScoringModel, parse_model
from scoring.switch import half_life_change
from streams.config.environment import Settings, model_digest, settings
from streams.contracts.control_records import (
    CONTROL_KEY, ControlState, WorkerReport, control_topic_name, encode_model_applied, read_control,
)
from streams.contracts.topic_admin import ensure_topics
from streams.errors import RolloutRefused, RolloutUnconfirmed

CONFIRM_POLL_S = 0.5


@dataclass(frozen=True)
class Applied:
    """What `model apply` did: the workers that confirmed, by URL, and the versions they left."""

    model: ScoringModel
    published: bool
    confirmed: list[WorkerReport]
    was: list[str]


def short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def describe_workers(state: ControlState, now: float) -> list[str]:
    """`model show`: one line per worker that reported, the silent ones said to be so."""
    lines = []
    for report in sorted(state.workers.values(), key=lambda r: r.worker):
        status = "" if not report.silent(now) else f" — SILENT for {now - report.reported_at:.0f} s (stopped?)"
        refused = (f"; refused {report.refused['version']}: {report.refused['reason']}"
                   if report.refused and report.refused.get("offset") == (state.applied and state.applied.offset)
                   else "")
        shadow = f"; shadow {report.shadow['version']} [{short(report.shadow['digest'])}]" if report.shadow else ""
        lines.append(f"worker {report.worker} (host {report.host}, pid {report.pid}) runs model {report.version}"
                     f" [{short(report.digest)}] from {report.source}{shadow}{refused}{status}")
    return lines


def read_model_file(path: str) -> str:
    try:
        return Path(path).read_text("utf-8")
    except OSError as exc:
        raise RolloutRefused(f"model file {path}: cannot be read: {exc.strerror}") from None


async def apply_model(path: str, timeout_s: float) -> Applied:
    """Validate the model file at ``path``, publish it, and wait until every running worker reports it."""
    return await apply_text(read_model_file(path), path, timeout_s)


async def apply_text(text: str, path: str, timeout_s: float) -> Applied:
    """Publish the model ``text`` (read from ``path``, which messages name) as `model apply` does."""
    config = settings()
    candidate = parse_model(text, source=path)  # a ModelError names the field
    digest = model_digest(text)
    await ensure_topics(config)
    state = await read_control(config)
    running = state.running(time.time())
    _refuse_conflicts(path, candidate, digest, state, running)
    was = sorted({report.version for report in running})
    if running and all(report.digest == digest for report in running):
        return Applied(candidate, False, running, was)
    previous = state.applied.model.version if state.applied is not None else None
    await publish_control(config, CONTROL_KEY, encode_model_applied(text, candidate.version, previous, time.time()))
    confirmed = await await_reports(
        config, {report.worker for report in running}, timeout_s, f"model {candidate.version}",
        runs_it=lambda report: report.digest == digest,
        refused_offset=lambda state: state.applied and state.applied.offset, lagging=_not_switched)
    return Applied(candidate, True, confirmed, was)


def _refuse_conflicts(path: str, candidate: ScoringModel, digest: str, state: ControlState,
                      running: list[WorkerReport]) -> None:
    """One version, one content: a file whose version runs anywhere (or was applied) with other contents is refused."""
    clashes = [f"worker {report.worker} runs {report.version} [{short(report.digest)}] from {report.source}"
               for report in running if report.version == candidate.version and report.digest != digest]
    applied = state.applied
    if applied is not None and applied.model.version == candidate.version and model_digest(applied.text) != digest:
        clashes.append(f"leads.control has {candidate.version} [{short(model_digest(applied.text))}]"
                       f" applied at {applied.applied_at}")
    if clashes:
        raise RolloutRefused(
            f"model {path} [{short(digest)}] has the version of the live model ({candidate.version}) but other"
            f" contents ({'; '.join(clashes)}): give it a new version, which every change it causes will carry")
    refuse_half_life_change(path, candidate, live_models(state, running), "replace")


def live_models(state: ControlState, running: list[WorkerReport]) -> list[ScoringModel]:
    """What runs now: the applied model if some running worker runs it (one every worker refused is
    live nowhere), else each worker's own file, as its report carries it."""
    applied = state.applied
    live_applied = applied is not None and (not running or any(r.digest == model_digest(applied.text)
                                                                for r in running))
    return [applied.model] if applied is not None and live_applied else [
        model for report in running if (model := _model_of(report)) is not None]


def refuse_half_life_change(path: str, candidate: ScoringModel, currents: list[ScoringModel], verb: str) -> None:
    """Held state was decayed with the live half-lives: a candidate with others needs a replay, not this."""
    current, problem = next(((model, found) for model in currents
                             if (found := half_life_change(model, candidate))), (None, None))
    if problem and current is not None:
        raise RolloutRefused(
            f"model {candidate.version} cannot {verb} {current.version} on the running workers: {problem}.\n"
            f"Compare first: leadstream replay --model {path}. To switch, start workers with"
            f" LEADSTREAM_MODEL={path} and a new LEADSTREAM_APP_ID: they rebuild every lead from"
            f" {settings().topic_prefix}leads.events.raw (as far back as its retention keeps)."
        )


def _model_of(report: WorkerReport) -> ScoringModel | None:
    """The model a worker's report carries; None from an older worker, or one this version cannot read."""
    if not report.model_text:
        return None
    try:
        return parse_model(report.model_text, source=f"worker {report.worker}")
    except ScoringError:
        return None


async def publish_control(config: Settings, key: bytes, value: bytes) -> int:
    """One record on leads.control, acknowledged by every in-sync replica: its offset."""
    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap_servers, acks="all",
                                **config.security.client_kwargs())
    await producer.start()
    try:
        return (await producer.send_and_wait(control_topic_name(config), value, key=key)).offset
    finally:
        await producer.stop()


async def await_reports(config: Settings, workers: set[str], timeout_s: float, what: str,
                        runs_it: Callable[[WorkerReport], bool],
                        refused_offset: Callable[[ControlState], int | None],
                        lagging: Callable[[str, WorkerReport | None, float], str]) -> list[WorkerReport]:
    """Until every worker running at the start (and any started since) reports ``runs_it``.

    A worker that refused the record at ``refused_offset`` ends the wait at once; ``lagging`` says,
    after ``timeout_s``, what each worker still behind reports.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        state = await read_control(config)
        now = time.time()
        expected = workers | {report.worker for report in state.running(now)}
        reports = {name: state.workers.get(name) for name in expected}
        refused = [r for r in reports.values() if r is not None and r.refused
                   and r.refused.get("offset") == refused_offset(state)]
        if refused:
            raise RolloutUnconfirmed("; ".join(
                f"worker {r.worker} refused {what}: {r.refused['reason']}" for r in refused if r.refused))
        behind = sorted(name for name, report in reports.items() if report is None or not runs_it(report))
        if not behind:
            return sorted((r for r in reports.values() if r is not None), key=lambda r: r.worker)
        if time.monotonic() >= deadline:
            raise RolloutUnconfirmed(
                f"{what} is published on leads.control, but after {timeout_s:.0f} s "
                + "; ".join(lagging(name, reports[name], now) for name in behind)
                + ". Workers read it as they come back; see `leadstream model show`")
        await asyncio.sleep(CONFIRM_POLL_S)


def _not_switched(name: str, report: WorkerReport | None, now: float) -> str:
    if report is None:
        return f"worker {name} stopped without confirming"
    if report.silent(now):
        return f"worker {name} has been silent for {now - report.reported_at:.0f} s (still on {report.version})"
    return f"worker {name} still reports model {report.version} [{short(report.digest)}]"
