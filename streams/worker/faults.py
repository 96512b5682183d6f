"""A fault-injection hook for the fault tests: crash the worker at a named point, for one lead.

Test-only. With ``LEADSTREAM_FAULT_CRASH_AT=<point>:<lead id>`` (validated with the other
settings), the worker that reaches ``<point>`` while handling that lead first flushes its
producer, so that everything it wrote so far (the table's changelog record included) is in
Kafka, then exits at once with status 137, as a SIGKILL would leave it: no shutdown, no offset
commit, nothing sent after the point. Unset (always, outside tests), a crash point costs one
comparison.
"""

from __future__ import annotations

import logging
import os

from streams.worker.app import app
from streams.config.environment import settings
from streams.log_redaction import lead_ref

log = logging.getLogger(__name__)
CRASH_EXIT_STATUS = 137  # what a shell reports for a process killed by SIGKILL


async def crash_point(name: str, lead_id: str) -> None:
    """Crash here if the settings name this point and this lead; otherwise do nothing."""
    if settings().fault_crash_at != (name, lead_id):
        return
    log.warning("fault injection: crashing at %s for lead %s", name, lead_ref(lead_id))
    await app.producer.flush()
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(CRASH_EXIT_STATUS)
