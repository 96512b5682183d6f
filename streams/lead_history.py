"""Each lead's history, kept beside its state: written as it is scored, erased with it."""

from __future__ import annotations

from scoring import LeadState, QualificationChange, Signal
from scoring.history import History, record, seeded_from
from streams import codecs
from streams.config import scoring_model
from streams.tables import history_table


def held_history(key: bytes, state: LeadState | None) -> History:
    """The lead's history; a lead scored before histories were kept starts from its state."""
    held = history_table.get(key)
    return codecs.decode_history(held) if held else seeded_from(state)


def record_history(key: bytes, before: LeadState | None, signal: Signal | None,
                   change: QualificationChange | None) -> None:
    """After an applied signal (or feedback) on the lead whose state was ``before``."""
    if signal is None and change is None:
        return
    history_table[key] = codecs.encode_history(record(held_history(key, before), signal, change, scoring_model()))


def forget_history(key: bytes) -> None:
    if history_table.get(key) is not None:
        del history_table[key]  # a tombstone, as for the lead's state
