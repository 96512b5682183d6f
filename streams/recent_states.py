"""The lead states a worker wrote last, kept decoded: a lead active again within moments is not decoded again."""

from __future__ import annotations

from collections import OrderedDict

from scoring import LeadState

# Leads come in bursts (a visit is a few page views within minutes), so the last few thousand
# written cover most reads while a burst lasts, at a bounded cost (a decoded state is a few KB).
RECENT_STATES = 4096


class RecentStates:
    """Each entry is the exact record object written to the table and the state it was encoded from.

    A read finds its state here only while the table still holds that very object (``is``, not
    ``==``): any write, recovery or deletion since puts another object there, or none, and the
    record is decoded as usual. A decoded record equals the state it was encoded from (the
    codec's round-trip tests), so what the reader gets is the same either way.
    """

    def __init__(self, size: int = RECENT_STATES) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[bytes, LeadState]] = OrderedDict()

    def get(self, key: bytes, record: bytes) -> LeadState | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not record:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: bytes, record: bytes, state: LeadState) -> None:
        self._entries[key] = (record, state)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
