"""Commands on leads.signals: work that must run on the partition owning the lead or visitor.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

from typing import Any

import orjson

from scoring import (
    Signal,
)
from streams.contracts.signal_records import signal_to_dict


ERASE = "erase"
FEEDBACK = "feedback"
DECAY = "decay"
OUTCOME = "outcome"  # a CRM outcome to join to the lead's stage history (streams/worker/outcome_join.py)
RECLASSIFY = "reclassify"  # re-classify the lead under the newly applied model (streams/worker/model_rollout.py)
SHADOW_START = "shadow_start"  # start the lead's shadow state from its live one (streams/worker/shadow_lane.py)
SHADOW_DECAY = "shadow_decay"  # the shadow's own timer came due for the lead
# Identity stitching (keyed by the visitor id, except release, keyed by the lead id):
STITCH = "stitch"  # identify linked visitor_id to lead_id: release what the visitor's partition holds
RELEASE = "release"  # the held history, scored for lead_id on its partition, once
EXPIRE = "expire"  # the visitor looked expired to the expiry timer: forget it if it still is
# Keyed by the lead id: visitor_id was linked to it. No longer sent (the lead records the link from
# the identify itself); still handled, so a record already on the topic is not lost.
LINKED = "linked"
EMAIL = "email"  # keyed by an e-mail: lead_id states it, or stopped stating it (streams/contracts/email_index.py)


def encode_command(command: str, lead_id: str | None, issued_at: float, **details: Any) -> bytes:
    return orjson.dumps({"command": command, "lead_id": lead_id, "issued_at": issued_at, **details})


def encode_release(lead_id: str, visitor_id: str, release_id: str, signals: tuple[Signal, ...],
                   issued_at: float) -> bytes:
    return encode_command(RELEASE, lead_id, issued_at, visitor_id=visitor_id, release_id=release_id,
                          signals=[signal_to_dict(signal) for signal in signals])


def is_command(raw: bytes) -> bool:
    return raw.startswith(b'{"command":')
