"""A synthetic history in which webinar attendance and contact forms predict won deals, and blog views,
pricing-page views and demo requests do not: what calibration must find, and replay must reproduce.

Every lead fits the ICP and confirms BANT, so its stage depends on its behaviour alone. Each
lead's deal closes (won or lost) two to four weeks after its last visit; leads start over four
months, so the latest-closing deals make a later time slice to hold out.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import orjson

from scoring import LeadEvent
from streams.contracts.segment import decode_segment

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY = 86_400.0
HOUR = 3_600.0
ICP = {"title": "VP Marketing", "industry": "software", "employees": 400, "country": "US"}
BANT_MET = {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "this quarter"}

Record = tuple[float, dict[str, Any]]  # (when the broker received it, the Segment message)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def synthetic_history(leads: int = 300, seed: int = 7, start: float = T0, days: float = 120.0) -> list[Record]:
    rng = random.Random(seed)
    records: list[Record] = []
    for number in range(leads):
        lead = f"syn-{seed}-{number}"
        won = rng.random() < 0.4
        begin = start + rng.uniform(0.0, days - 40.0) * DAY
        ids = iter(range(1000))

        def add(offset_s: float, **body: Any) -> None:
            at = begin + offset_s
            records.append((at, {"messageId": f"{lead}-{next(ids)}", "userId": lead, "timestamp": iso(at), **body}))

        add(0.0, type="identify", traits={"email": f"{lead}@company{number}.com", **ICP})
        add(HOUR, type="track", event="Qualification Form Submitted", properties={"criteria": BANT_MET})
        for _ in range(rng.randint(0, 6)):
            add(rng.uniform(0.1, 4.0) * DAY, type="page", properties={"path": f"/blog/post-{rng.randint(1, 40)}"})
        if rng.random() < (0.75 if won else 0.15):
            add(rng.uniform(1.0, 4.0) * DAY, type="track", event="Webinar Attended")
        decision = rng.uniform(5.0, 6.0) * DAY
        for _ in range(rng.randint(1, 3)):
            add(decision + rng.uniform(0.0, 2.0) * HOUR, type="page", properties={"path": "/pricing"})
        if rng.random() < (0.7 if won else 0.2):
            add(decision + rng.uniform(2.0, 3.0) * HOUR, type="track", event="Contact Form Submitted")
        if rng.random() < 0.35:  # demo requests come as often from leads that go on to lose
            add(decision + rng.uniform(3.0, 4.0) * HOUR, type="track", event="Demo Requested")
        add(decision + 3.0 * DAY, type="track", event="Opportunity Created")
        add(decision + rng.uniform(14.0, 28.0) * DAY, type="track", event="Deal Won" if won else "Deal Lost")
    return sorted(records, key=lambda record: record[0])


def decoded(records: list[Record]) -> list[LeadEvent]:
    events = []
    for received_at, message in records:
        event = decode_segment(orjson.dumps(message), received_at, 32 * 1024)
        assert isinstance(event, LeadEvent), event
        events.append(event)
    return events
