"""The leads of this worker's partitions that came due for a revisit and that nobody has acted on since.

The board lists them (GET /leads/revisits). Kept where the demotion index is: every state write of a
batch puts or drops the lead (``scoring.revisit.awaiting_revisit``); after each recovery the leads of
partitions newly owned are added from the table, and a partition that moved away takes its leads with it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class RevisitQueue:
    def __init__(self) -> None:
        self._due: dict[bytes, float] = {}  # lead key -> the due time of its revisit

    def __len__(self) -> int:
        return len(self._due)

    def put(self, key: bytes, due: float | None) -> None:
        """The lead awaits the revisit due at ``due``; None: it does not (any more)."""
        if due is None:
            self._due.pop(key, None)
        else:
            self._due[key] = due

    def discard(self, key: bytes) -> None:
        self._due.pop(key, None)

    def extend(self, entries: Iterable[tuple[bytes, float | None]]) -> None:
        for key, due in entries:
            self.put(key, due)

    def longest_waiting(self, limit: int) -> list[tuple[bytes, float]]:
        """Up to ``limit`` leads, the longest waiting (earliest due) first."""
        return heapq.nsmallest(limit, self._due.items(), key=lambda item: (item[1], item[0]))
