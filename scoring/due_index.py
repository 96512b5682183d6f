"""Which leads are due for a demotion check, found without scanning every lead.

A min-heap of (due time, lead) with lazy invalidation: rescheduling a lead just records its new
time, and stale heap entries are dropped when they surface. Popping what is due costs
O(d log n) for d due leads, whatever the number n of leads held.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)  # a lead's table key, an account's domain, a visitor id


class DueIndex(Generic[Key]):
    def __init__(self) -> None:
        self._heap: list[tuple[float, Key]] = []
        self._due: dict[Key, float] = {}

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, lead_id: Key, due: float | None) -> None:
        """Set (or clear, with None) when ``lead_id`` is next due."""
        if due is None:
            self._due.pop(lead_id, None)
            return
        if self._due.get(lead_id) == due:
            return
        self._due[lead_id] = due
        heapq.heappush(self._heap, (due, lead_id))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._compact()

    def due_at(self, lead_id: Key) -> float | None:
        return self._due.get(lead_id)

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[Key, float]]:
        """Leads due at or before ``now`` (earliest first), removed from the index."""
        popped: list[tuple[Key, float]] = []
        while self._heap and self._heap[0][0] <= now and (limit is None or len(popped) < limit):
            due, lead_id = heapq.heappop(self._heap)
            if self._due.get(lead_id) == due:  # else a stale entry: the lead was rescheduled
                del self._due[lead_id]
                popped.append((lead_id, due))
        return popped

    def rebuild(self, entries: Iterable[tuple[Key, float | None]]) -> None:
        self._due = {}
        self.extend(entries)

    def extend(self, entries: Iterable[tuple[Key, float | None]]) -> None:
        """Add (or clear) many at once, as a recount of partitions newly owned does."""
        for lead_id, due in entries:
            if due is None:
                self._due.pop(lead_id, None)
            else:
                self._due[lead_id] = due
        self._compact()

    def _compact(self) -> None:
        self._heap = [(due, lead_id) for lead_id, due in self._due.items()]
        heapq.heapify(self._heap)
