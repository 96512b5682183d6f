"""Coalescing: only a lead's latest state is written, at most once per window, and offsets follow the writes.

Every record read is added here with its partition and offset. A lead's newer state replaces the
one waiting, so a burst of changes for one lead within the window becomes one write. A lead is due
``window_s`` after its first waiting state arrived; a state arriving while its write is in flight
waits a whole window again, so two writes of one lead are at least a window apart.

Offsets: a partition may be committed up to (not including) the oldest record whose write is not
done. A waiting lead holds back the offset of the first record it absorbed, so a restart re-reads
it and nothing is lost; everything else read is done as soon as it is decided (written,
dead-lettered or skipped). Pure bookkeeping, with the clock passed in: the consumer does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.crm.fields import LeadState


@dataclass
class _Waiting:
    state: LeadState
    since: float  # when the first state of this wait arrived
    held: dict[int, int] = field(default_factory=dict)  # partition → the lowest offset this wait absorbed
    absorbed: int = 1  # records folded into this one write


@dataclass(frozen=True)
class Due:
    """A lead's write to make now, with the offsets it releases once done."""

    state: LeadState
    held: dict[int, int]
    absorbed: int


class Coalescer:
    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._waiting: dict[str, _Waiting] = {}
        self._in_flight: dict[str, dict[int, int]] = {}  # lead → offsets its write in flight holds
        self._read: dict[int, int] = {}  # partition → the next offset after the last record read
        self._first: dict[int, int] = {}  # partition → the first offset read: committing it would say nothing

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, state: LeadState, partition: int, offset: int, now: float) -> int:
        """Keeps ``state`` as the lead's latest; returns how many earlier states it replaced (0 or 1)."""
        self.read(partition, offset)
        waiting = self._waiting.get(state.lead_id)
        if waiting is None:
            self._waiting[state.lead_id] = _Waiting(state, now, {partition: offset})
            return 0
        waiting.state = state
        waiting.held.setdefault(partition, offset)
        waiting.absorbed += 1
        return 1

    def read(self, partition: int, offset: int) -> None:
        """Notes a record read; one that needs no write (unreadable, skipped) is done at once."""
        self._read[partition] = max(self._read.get(partition, 0), offset + 1)
        self._first.setdefault(partition, offset)

    def due(self, now: float, everything: bool = False) -> list[Due]:
        """The leads whose window has passed (all waiting leads if ``everything``), oldest first; now in flight."""
        ready = [lead for lead, waiting in self._waiting.items()
                 if everything or now - waiting.since >= self.window_s]
        taken = []
        for lead in ready:
            waiting = self._waiting.pop(lead)
            self._in_flight[lead] = waiting.held
            taken.append(Due(waiting.state, waiting.held, waiting.absorbed))
        return taken

    def done(self, lead_id: str) -> None:
        """The lead's write in flight finished (written or dead-lettered): its offsets are released."""
        self._in_flight.pop(lead_id, None)

    def give_back(self, due: Due, now: float) -> None:
        """A write that was not made (stopped mid-retry): the lead waits again, keeping any newer state."""
        self._in_flight.pop(due.state.lead_id, None)
        waiting = self._waiting.get(due.state.lead_id)
        if waiting is None:
            self._waiting[due.state.lead_id] = _Waiting(due.state, now, dict(due.held), due.absorbed)
        else:
            for partition, offset in due.held.items():
                waiting.held[partition] = min(offset, waiting.held.get(partition, offset))

    def next_due_in(self, now: float) -> float | None:
        """Seconds until the next lead is due (0 when one is), None when none waits."""
        if not self._waiting:
            return None
        return max(0.0, min(waiting.since for waiting in self._waiting.values()) + self.window_s - now)

    def committable(self) -> dict[int, int]:
        """Partition → the offset to commit: below the oldest record whose write is not done.

        A partition where not even the first record read is done is left out: there is nothing to say yet.
        """
        offsets = dict(self._read)
        for held in [waiting.held for waiting in self._waiting.values()] + list(self._in_flight.values()):
            for partition, offset in held.items():
                offsets[partition] = min(offsets.get(partition, offset), offset)
        return {partition: offset for partition, offset in offsets.items() if offset > self._first[partition]}
