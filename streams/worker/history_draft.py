"""Each lead's history, kept in its own table record beside its state: written as it is scored, erased with it."""

from __future__ import annotations

from typing import Any

from scoring import LeadState, QualificationChange, ScoringModel, Signal
from scoring.history import CHANGES_KEPT, EVENTS_KEPT, History, record, seeded_from
from streams.contracts import history_records, lead_records


def history_in(record_bytes: bytes | None, state: LeadState | None) -> History:
    """The history in a lead's table record; a lead scored before histories were kept starts from its state."""
    return _history_from(lead_records.history_of(record_bytes), state)


def _history_from(held: bytes, state: LeadState | None) -> History:
    return history_records.decode_history(held) if held else seeded_from(state)


class HistoryDraft:
    """A lead's history as one batch adds to it, written back once at the batch's end.

    Most events land after the lead's latest one, in a history with room left: then the event
    (and the move it caused) is appended to the record's decoded JSON as ``encode_history``
    would write it, and no event of the history is ever turned into an object, which cost more
    than scoring the event. A late event, or one that makes the oldest fold, takes the whole
    ``scoring.history.record`` path. Both write the same bytes (a property test holds them equal).
    """

    def __init__(self, held: bytes, state: LeadState | None) -> None:
        """``held``: the history line of the lead's record (``lead_records.history_of``), empty if none."""
        self._parts: list[Any] | None = history_records.history_parts(held) if held else None
        self._history: History | None = None if self._parts is not None else _history_from(held, state)

    @classmethod
    def of_record(cls, record_bytes: bytes | None, state: LeadState | None) -> HistoryDraft:
        return cls(lead_records.history_of(record_bytes), state)

    def record(self, signal: Signal | None, change: QualificationChange | None, model: ScoringModel) -> None:
        if self._parts is not None and _appended(self._parts, signal, change):
            return
        history = self._history if self._parts is None else history_records.history_from_parts(self._parts)
        self._parts, self._history = None, record(history, signal, change, model)  # type: ignore[arg-type]

    def encode(self) -> bytes:
        if self._parts is not None:
            return history_records.encode_history_parts(self._parts)
        assert self._history is not None
        return history_records.encode_history(self._history)


def _appended(parts: list[Any], signal: Signal | None, change: QualificationChange | None) -> bool:
    """Append in place when ``record`` would only append; False (nothing changed) when it would do more."""
    events, moves = parts[3], parts[4]
    if signal is not None:
        if len(events) >= EVENTS_KEPT or (events and events[-1][0] > signal.occurred_at):
            return False
        events.append(history_records.occurrence_parts(signal.occurred_at, signal.kind, signal.answers,
                                              tuple(sorted(signal.profile))))
    if change is not None:
        moves.extend(history_records.move_parts(change.event_time, change.from_stage, change.to_stage,
                                       change.from_temperature, change.to_temperature, change.cause,
                                       change.scores.total))
        del moves[:-CHANGES_KEPT * history_records.MOVE_PARTS]
    return True
