"""`leadstream model apply` and `model show`: publishing a model to every running worker, and reading the live one.

The workers' side of a switch is streams/worker/model_rollout.py; the record is streams/contracts/control_records.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from scoring import ScoringModel, parse_model
from scoring.switch import half_life_change
from streams.config.environment import file_model, settings
from streams.contracts.control_records import CONTROL_KEY, control_topic_name, encode_model_applied, latest_applied
from streams.contracts.topic_admin import ensure_topics
from streams.errors import RolloutRefused

async def apply_model(path: str) -> tuple[ScoringModel, ScoringModel]:
    """Validate the model file at ``path`` and publish it to every worker; returns (was, now)."""
    config = settings()
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise RolloutRefused(f"model file {path}: cannot be read: {exc.strerror}") from None
    candidate = parse_model(text, source=path)  # a ModelError names the field
    await ensure_topics(config)
    applied, _ = await latest_applied(config)
    current = applied.model if applied is not None else file_model()
    if candidate.version == current.version:
        if applied is not None and applied.text == text:
            return current, candidate
        raise RolloutRefused(
            f"model {path} has the version of the live model ({current.version}) but other contents: give it a"
            " new version, which every change it causes will carry")
    problem = half_life_change(current, candidate)
    if problem:
        raise RolloutRefused(
            f"model {candidate.version} cannot replace {current.version} on the running workers: {problem}.\n"
            f"Compare first: leadstream replay --model {path}. To switch, start workers with"
            f" LEADSTREAM_MODEL={path} and a new LEADSTREAM_APP_ID: they rebuild every lead from"
            f" {config.topic_prefix}leads.events.raw (as far back as its retention keeps)."
        )
    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap_servers, acks="all",
                                **config.security.client_kwargs())
    await producer.start()
    try:
        await producer.send_and_wait(control_topic_name(config), encode_model_applied(
            text, candidate.version, current.version, time.time()), key=CONTROL_KEY)
    finally:
        await producer.stop()
    return current, candidate
