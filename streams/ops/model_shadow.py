"""`leadstream model shadow`, `model shadow --off` and `model promote`: a candidate on live traffic, deciding nothing.

The shadow is one record on leads.control (key ``shadow``; streams/contracts/control_records.py).
Every worker runs it beside the live model (streams/worker/shadow_lane.py) and says so in its
report; these commands publish the record and wait until every running worker reports it, as
`model apply` does. Promoting is `model apply` of the shadow's own text, then the shadow switched off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from scoring import ScoringModel, parse_model
from streams.config.environment import model_digest, settings
from streams.contracts.control_records import SHADOW_KEY, WorkerReport, encode_model_shadow, read_control
from streams.contracts.topic_admin import ensure_topics
from streams.contracts.topics import SHADOW_QUALIFICATION
from streams.errors import RolloutRefused
from streams.ops.model_apply import (
    Applied, apply_text, await_reports, live_models, publish_control, read_model_file, refuse_half_life_change,
)


@dataclass(frozen=True)
class Shadowed:
    """What `model shadow` did: the shadow (None: switched off) and the workers that confirmed it."""

    model: ScoringModel | None
    confirmed: list[WorkerReport]
    live: list[str]  # the live versions it runs beside


async def put_shadow(path: str, timeout_s: float) -> Shadowed:
    """Validate the model file at ``path``, publish it as the shadow, wait until every running worker runs it."""
    text = read_model_file(path)
    candidate = parse_model(text, source=path)  # a ModelError names the field
    config = settings()
    await ensure_topics(config)
    state = await read_control(config)
    running = state.running(time.time())
    currents = live_models(state, running)
    if any(model.version == candidate.version for model in currents):
        raise RolloutRefused(f"model {path} has the live model's version ({candidate.version}): give the shadow a"
                             " version of its own, which every change it makes carries")
    refuse_half_life_change(path, candidate, currents, "shadow")
    offset = await publish_control(config, SHADOW_KEY, encode_model_shadow(text, candidate.version, time.time()))
    digest = model_digest(text)
    confirmed = await await_reports(
        config, {report.worker for report in running}, timeout_s, f"shadow model {candidate.version}",
        runs_it=lambda report: report.shadow is not None and report.shadow.get("digest") == digest,
        refused_offset=lambda _: offset, lagging=_not_confirmed)
    return Shadowed(candidate, confirmed, sorted({model.version for model in currents}))


async def shadow_off(timeout_s: float) -> Shadowed:
    """Switch the shadow off: every running worker stops producing to leads.qualification.shadow."""
    config = settings()
    await ensure_topics(config)
    running = (await read_control(config)).running(time.time())
    offset = await publish_control(config, SHADOW_KEY, encode_model_shadow(None, None, time.time()))
    confirmed = await await_reports(
        config, {report.worker for report in running}, timeout_s, "the shadow switched off",
        runs_it=lambda report: report.shadow is None, refused_offset=lambda _: offset, lagging=_not_confirmed)
    return Shadowed(None, confirmed, [])


async def promote(timeout_s: float) -> Applied:
    """Make the shadow the live model (`model apply` of its text), then switch the shadow off."""
    state = await read_control(settings())
    shadow = state.shadow
    if shadow is None or shadow.model is None or shadow.text is None:
        raise RolloutRefused("there is no shadow model to promote: put one on with `leadstream model shadow FILE`")
    applied = await apply_text(shadow.text, f"the shadow ({shadow.model.version}, leads.control offset"
                                            f" {shadow.offset})", timeout_s)
    await shadow_off(timeout_s)
    return applied


def shadow_topic() -> str:
    return settings().topic_prefix + SHADOW_QUALIFICATION


def _not_confirmed(name: str, report: WorkerReport | None, now: float) -> str:
    return f"worker {name} had not confirmed it"
