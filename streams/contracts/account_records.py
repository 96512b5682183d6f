"""accounts.members updates, the accounts table's records and accounts.qualification changes.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import orjson

from scoring.accounts import AccountChange, AccountState, Member
from streams import PRODUCER
from streams.contracts import record_frame
from streams.contracts.encoding import iso_time


def _member_body(domain: str, lead_id: str, member: Member | None) -> dict[str, Any]:
    body: dict[str, Any] = {"domain": domain, "lead_id": lead_id, "left": member is None}
    if member is not None:
        body.update(interest=member.interest, intent=member.intent, as_of=member.as_of, role=member.role,
                    criteria_met=sorted(member.criteria_met), cause_event_id=member.cause_event_id)
    return body


def _member_of(body: dict[str, Any]) -> Member | None:
    if body["left"]:
        return None
    return Member(
        lead_id=body["lead_id"], interest=body["interest"], intent=body["intent"], as_of=body["as_of"],
        role=body["role"], criteria_met=frozenset(body["criteria_met"]), cause_event_id=body["cause_event_id"],
    )


def encode_member_updates(domain: str, updates: Sequence[tuple[str, Member | None]]) -> bytes:
    """One account's member updates from one batch, in the order they were decided."""
    return orjson.dumps({"domain": domain, "members": [_member_body(domain, lead, member) for lead, member in updates]})


def encode_member_updates_within(domain: str, updates: Sequence[tuple[str, Member | None]],
                                 max_bytes: int) -> list[bytes]:
    """``encode_member_updates``, split in order into records of at most ``max_bytes`` each.

    A burst of leads at one company once made a single record larger than the broker takes. Each
    record reads like a whole one (the same bytes ``encode_member_updates`` writes for its share),
    and, all keyed by the domain, they reach the account's partition in order. A lone update larger
    than ``max_bytes`` still gets a record of its own (ids are bounded, so none comes near it).
    """
    head = b'{"domain":' + orjson.dumps(domain) + b',"members":['
    records: list[bytes] = []
    bodies: list[bytes] = []
    size = len(head) + 2  # the closing "]}"
    for lead, member in updates:
        body = orjson.dumps(_member_body(domain, lead, member))
        if bodies and size + len(body) + 1 > max_bytes:
            records.append(head + b",".join(bodies) + b"]}")
            bodies, size = [], len(head) + 2
        bodies.append(body)
        size += len(body) + 1
    if bodies or not records:
        records.append(head + b",".join(bodies) + b"]}")
    return records


def decode_member_updates(raw: bytes) -> tuple[str, list[tuple[str, Member | None]]]:
    domain, updates, _ = decode_account_record(raw)
    return domain, updates


def encode_cooling(domain: str, due: float) -> bytes:
    """The account timer's request (no member update): reclassify the account if it may cool by now."""
    return orjson.dumps({"domain": domain, "members": [], "cool_at": due})


def decode_account_record(raw: bytes) -> tuple[str, list[tuple[str, Member | None]], float | None]:
    """An accounts.members record: its domain, its member updates, and the timer's cooling time if it is one."""
    data = orjson.loads(raw)
    updates = [(body["lead_id"], _member_of(body)) for body in data["members"]]
    return data["domain"], updates, data.get("cool_at")


# The accounts table's records: the byte 1, then the object earlier releases wrote as JSON, in
# MessagePack (``record_frame``). decode_account reads both.
ACCOUNT_FORMAT = b"\x01"


def encode_account(account: AccountState) -> bytes:
    return record_frame.framed(ACCOUNT_FORMAT, {
        "level": account.level, "sequence": account.sequence, "checked_at": account.checked_at,
        "members": {lead: _member_body(account.domain, lead, m) for lead, m in account.members.items()},
    })


def decode_account(domain: str, raw: bytes | None) -> AccountState:
    if not raw:
        return AccountState(domain=domain)
    data = record_frame.unframed(raw) if raw[:1] == ACCOUNT_FORMAT else orjson.loads(raw)
    members = {lead: _member_of(body) for lead, body in data["members"].items()}
    return AccountState(domain=domain, members=MappingProxyType(members), level=data["level"],
                        sequence=data["sequence"], checked_at=data.get("checked_at", 0.0))  # absent before it was kept


def encode_account_change(change: AccountChange, model_version: str, emitted_at: float) -> bytes:
    return orjson.dumps({
        "kind": "account_qualification_change",
        "change_id": change.change_id,
        "account": change.domain,
        "sequence": change.sequence,
        "from_temperature": change.from_temperature.value,
        "to_temperature": change.to_temperature.value,
        "score": round(change.view.score, 4),
        "engaged_people": len(change.view.engaged),
        "engaged_leads": list(change.view.engaged),
        "roles": sorted(change.view.roles),
        "criteria_met": sorted(change.view.criteria_met),
        "members": change.members,
        "cause_lead_id": change.cause_lead_id,
        "model_version": model_version,
        "producer": PRODUCER,
        "event_time": iso_time(change.event_time),
        "emitted_at": iso_time(emitted_at),
    })
