"""Each lead's history, kept beside its state: written as it is scored, erased with it."""

from __future__ import annotations

from scoring import LeadState
from scoring.history import History, seeded_from
from streams import codecs
from streams.tables import history_table


def held_history(key: bytes, state: LeadState | None) -> History:
    """The lead's history; a lead scored before histories were kept starts from its state."""
    held = history_table.get(key)
    return codecs.decode_history(held) if held else seeded_from(state)
