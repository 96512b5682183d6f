"""Each lead's history, kept in its own table record beside its state: written as it is scored, erased with it."""

from __future__ import annotations

from scoring import LeadState
from scoring.history import History, seeded_from
from streams import codecs


def history_in(record: bytes | None, state: LeadState | None) -> History:
    """The history in a lead's table record; a lead scored before histories were kept starts from its state."""
    held = codecs.history_of(record) if record else b""
    return codecs.decode_history(held) if held else seeded_from(state)
