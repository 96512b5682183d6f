"""Erasure and sales-feedback records: what leads.qualification and leads.feedback carry about them.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import orjson

from scoring import (
    LeadState,
)
from scoring.changes import change_id
from streams.contracts.encoding import iso_time
from streams.contracts.partitioning import partition_for

# --- the erasures table: who was erased, without naming them -------------------------------

ERASURE_KEY_PREFIX = "erased:"


def erasure_digest(subject: str) -> str:
    """What the erasures table keeps of an erased id: a digest, so the suppression list names no one."""
    return hashlib.blake2b(subject.encode(), digest_size=16, person=b"leadstream-erase").hexdigest()


@lru_cache(maxsize=65536)
def erasure_key(subject: bytes, partitions: int) -> bytes:
    """The erasures table's key for ``subject``: its digest, placed on the subject's own partition.

    The table is co-partitioned like every other: the worker that owns a lead or visitor must find
    its suppression without asking another. A digest lands on any partition, so a counter after it
    is raised until Kafka's partitioner puts the key where ``subject`` goes (``partitions`` tries
    on average).
    """
    return digest_key_beside(subject, ERASURE_KEY_PREFIX, erasure_digest(subject.decode()), partitions)


def digest_key_beside(subject: bytes, prefix: str, digest: str, partitions: int) -> bytes:
    """``prefix`` + ``digest`` + a counter, raised until Kafka's partitioner puts the key where ``subject`` goes."""
    target = partition_for(subject, partitions)
    for attempt in range(partitions * 1000):
        key = f"{prefix}{digest}:{attempt}".encode()
        if partition_for(key, partitions) == target:
            return key
    raise RuntimeError(f"no {prefix} key on partition {target} of {partitions}")  # odds below 1e-400


def erased_digests(keys: Iterable[bytes]) -> tuple[frozenset[str], frozenset[str]]:
    """The erasures changelog's keys as (digests, ids erased before keys were digests)."""
    digests, plain = set(), set()
    for key in keys:
        text = key.decode("utf-8", "replace")
        if text.startswith(ERASURE_KEY_PREFIX):
            digests.add(text[len(ERASURE_KEY_PREFIX):].rpartition(":")[0])
        else:
            plain.add(text)
    return frozenset(digests), frozenset(plain)


class ErasedIds(frozenset):
    """The ids erased so far, as the erasures table knows them: ``id in erased`` compares digests."""

    def __new__(cls, digests: frozenset[str], plain: frozenset[str] = frozenset()) -> ErasedIds:
        erased = super().__new__(cls, digests | plain)
        erased.digests, erased.plain = digests, plain
        return erased

    def __contains__(self, subject: object) -> bool:
        return isinstance(subject, str) and (subject in self.plain or erasure_digest(subject) in self.digests)



def erasure_summary(state: LeadState | None, erased_at: float, visitor_record: bool = False,
                    held_anonymous_events: int = 0, linked_visitors: int = 0, feedback: int = 0,
                    leads_stating_email: int = 0) -> dict[str, Any]:
    """What an erasure removed, without repeating any of it; all zero and false for an id never seen."""
    return {
        "erased_at": iso_time(erased_at),
        "lead_state": state is not None,
        "events_counted": sum(t.count for t in state.tallies.values()) if state else 0,
        "signal_kinds": len(state.tallies) if state else 0,
        "profile_fields": sorted(state.profile) if state else [],
        "criteria_answers": len(state.answers) if state else 0,
        "visitor_record": visitor_record,  # the id was an anonymous visitor's
        "held_anonymous_events": held_anonymous_events,
        "linked_visitors": linked_visitors,  # erased in turn, each on its own partition
        "feedback_records": feedback,  # tombstoned on leads.feedback
        "leads_stating_email": leads_stating_email,  # the id was an e-mail these leads stated: erased in turn
    }


def encode_erasure_event(lead_id: str, summary: dict[str, Any]) -> bytes:
    return orjson.dumps({
        "kind": "lead_erased",
        "change_id": change_id(lead_id, "erasure"),
        "lead_id": lead_id,
        "erased_at": summary["erased_at"],
    })


# --- leads.feedback: sales verdicts, kept for calibration ----------------------------------

def feedback_key(lead_id: str, feedback_id: str) -> bytes:
    """Each verdict its own key on the compacted leads.feedback: erasure tombstones each, compaction keeps all others."""
    return f"{lead_id}#{feedback_id}".encode()


def encode_feedback_event(lead_id: str, feedback: dict[str, Any], state: LeadState | None) -> bytes:
    return orjson.dumps({
        "kind": "sales_feedback",
        "feedback_id": feedback["feedback_id"],
        "lead_id": lead_id,
        "verdict": feedback["verdict"],
        "reason": feedback.get("reason"),
        "by": feedback.get("by"),
        "at": iso_time(feedback["issued_at"]),
        "stage": state.stage.value if state else None,
        "temperature": state.temperature.value if state else None,
    })
