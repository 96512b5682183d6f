"""What an uninterrupted run makes of a set of events, computed by the pure scoring core.

The fault tests compare a faulted run with this: the same qualification changes (by id and
content) and the same final state per lead, however often events were redelivered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from scoring import Ignored, LeadState, apply, interpret, load_model
from streams.contracts import change_records, lead_records
from streams.contracts.segment import Rejection, decode_segment

MAX_EVENT_BYTES = 32 * 1024
# Differ between two emits of one change (and between runs): not part of what must be equal.
EMIT_FIELDS = ("emitted_at", "ingested_at")


def change_content(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name not in EMIT_FIELDS}


@dataclass
class Reference:
    """Every change an uninterrupted run emits (by change id) and each lead's final state."""

    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, LeadState] = field(default_factory=dict)
    scored: int = 0

    @classmethod
    def of(cls, messages: list[dict[str, Any]]) -> Reference:
        """Each lead's events in the order sent (the tests key them by lead: one partition each)."""
        model, reference, now = load_model(None), cls(), time.time()
        for message in messages:
            decoded = decode_segment(orjson.dumps(message), now, MAX_EVENT_BYTES)
            assert not isinstance(decoded, Rejection), decoded
            signal = interpret(decoded, model)
            assert not isinstance(signal, Ignored) and not signal.anonymous, signal
            decision = apply(reference.states.get(signal.lead_id), signal, model)
            if decision.duplicate:
                continue
            reference.scored += 1
            reference.states[signal.lead_id] = decision.state
            if decision.change is not None:
                reference.changes[decision.change.change_id] = change_content(
                    change_records.change_to_dict(decision.change, 0.0, None))
        return reference

    def differences(self, records: list[dict[str, Any]], states: dict[bytes, bytes]) -> list[str]:
        """What a run's qualification records and final table states got wrong; empty if nothing.

        Only this reference's leads count: a test may share its topics with others.
        """
        wrong: list[str] = []
        emitted: dict[str, list[dict[str, Any]]] = {}
        for record in (r for r in records if r["lead_id"] in self.states):
            emitted.setdefault(record["change_id"], []).append(change_content(record))
        if missing := sorted(set(self.changes) - set(emitted)):
            wrong.append(f"{len(missing)} changes never emitted, e.g. {missing[:3]}")
        if extra := sorted(set(emitted) - set(self.changes)):
            wrong.append(f"{len(extra)} changes an uninterrupted run does not emit, e.g. {extra[:3]}")
        for change_id, copies in emitted.items():
            if change_id in self.changes and any(copy != self.changes[change_id] for copy in copies):
                wrong.append(f"change {change_id} emitted with other content: {copies[0]} != {self.changes[change_id]}")
        for lead_id, expected in self.states.items():
            held = states.get(lead_id.encode())
            if held is None:
                wrong.append(f"lead {lead_id} has no state in the changelog")
            elif (actual := lead_records.decode_state(lead_id, held)) != lead_records.decode_state(lead_id, lead_records.encode_state(expected)):
                wrong.append(f"lead {lead_id}: final state differs from an uninterrupted run's: {_state_diff(actual, expected)}")
        return wrong


def _state_diff(actual: LeadState, expected: LeadState) -> str:
    """Which events the state holds that it should not, or lacks, and how its counts differ."""
    counts = {kind: (tally.count, expected.tallies[kind].count if kind in expected.tallies else 0)
              for kind, tally in actual.tallies.items()}
    return (f"sequence {actual.sequence} (expected {expected.sequence}), "
            f"{len(set(expected.recent_event_ids) - set(actual.recent_event_ids))} events missing, "
            f"{len(set(actual.recent_event_ids) - set(expected.recent_event_ids))} unexpected, "
            f"counts (actual, expected) {counts}")
