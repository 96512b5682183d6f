"""What model this worker runs, told to `leadstream model show` and `model apply` through leads.control.

The worker writes a report keyed by its advertised URL (streams/contracts/control_records.py):
at start, after every switch or refusal, and every REPORT_EVERY_S; on a clean stop it deletes it
with a tombstone. Reports travel through Kafka, not HTTP, so the CLI sees the workers of every
host it can reach the brokers from, whether or not it can reach their web ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.config.environment import (
    file_model_source, file_model_text, model_digest, scoring_model, settings,
)
from streams.contracts.control_records import (
    REPORT_EVERY_S, AppliedModel, ShadowModel, WorkerReport, control_topic_name, encode_worker_report, worker_key,
)
from streams.worker.app import app

log = logging.getLogger(__name__)
RETRY_S = 2.0
STOP_TIMEOUT_S = 5.0


@dataclass
class _Running:
    """The applied model this worker switched to (None: its own LEADSTREAM_MODEL), and the last it refused."""

    applied: AppliedModel | None = None
    refused: dict[str, Any] | None = None
    shadow: ShadowModel | None = None  # the shadow it runs beside the live model
    changed: asyncio.Event | None = None


_running = _Running()


def running_applied(applied: AppliedModel) -> None:
    """This worker now scores with ``applied``: report it at once."""
    _running.applied = applied
    _poke()


def refused_applied(applied: AppliedModel, reason: str) -> None:
    """This worker would not take ``applied``: `model apply` names it and the reason."""
    _running.refused = {"offset": applied.offset, "version": applied.model.version, "reason": reason}
    _poke()


def running_shadow(shadow: ShadowModel | None) -> None:
    """This worker now runs ``shadow`` beside the live model (None: no shadow): report it at once."""
    _running.shadow = shadow
    _poke()


def refused_applied_shadow(shadow: ShadowModel, reason: str) -> None:
    """This worker would not run ``shadow``: `model shadow` names it and the reason."""
    assert shadow.model is not None
    _running.shadow = None
    _running.refused = {"offset": shadow.offset, "version": shadow.model.version, "reason": reason}
    _poke()


def _poke() -> None:
    if _running.changed is not None:
        _running.changed.set()


def running_digest() -> str:
    applied = _running.applied
    return model_digest(applied.text if applied is not None else file_model_text())


def current_report() -> WorkerReport:
    applied = _running.applied
    source = (f"applied with `leadstream model apply` at {applied.applied_at} (leads.control offset {applied.offset})"
              if applied is not None else file_model_source())
    return WorkerReport(
        worker=settings().advertised_url, host=socket.gethostname(), pid=os.getpid(),
        version=scoring_model().version, digest=running_digest(), source=source,
        applied_offset=applied.offset if applied is not None else None, refused=_running.refused,
        reported_at=time.time(), model_text=applied.text if applied is not None else file_model_text(),
        shadow=_shadow_report(_running.shadow),
    )


def _shadow_report(shadow: ShadowModel | None) -> dict[str, Any] | None:
    if shadow is None or shadow.model is None or shadow.text is None:
        return None
    return {"version": shadow.model.version, "digest": model_digest(shadow.text), "offset": shadow.offset}


@app.task
async def report_running_model() -> None:
    """Report now, on every change and every REPORT_EVERY_S; delete the report when the worker stops."""
    config = settings()
    _running.changed = asyncio.Event()
    key = worker_key(config.advertised_url)
    producer: AIOKafkaProducer | None = None
    try:
        while True:
            try:
                if producer is None:
                    producer = AIOKafkaProducer(bootstrap_servers=config.bootstrap_servers, acks="all",
                                                **config.security.client_kwargs())
                    await producer.start()
                _running.changed.clear()
                await producer.send_and_wait(control_topic_name(config), encode_worker_report(current_report()),
                                             key=key)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 — a lost broker must not stop the reports for good
                log.warning("reporting the running model on leads.control failed; retrying", exc_info=True)
                await _stopped(producer)
                producer = None
                await asyncio.sleep(RETRY_S)
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_running.changed.wait(), REPORT_EVERY_S)
    finally:
        if producer is not None:
            # A clean stop says so: `model show` and `model apply` stop counting this worker at once.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.send_and_wait(control_topic_name(config), None, key=key),
                                       STOP_TIMEOUT_S)
            await _stopped(producer)


async def _stopped(producer: AIOKafkaProducer | None) -> None:
    if producer is not None:
        with contextlib.suppress(Exception):  # bounded: a broker gone must not hold the worker's shutdown
            await asyncio.wait_for(producer.stop(), STOP_TIMEOUT_S)
