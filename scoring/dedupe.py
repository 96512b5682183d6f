"""Recognising redelivered events by a compact hash of their id."""

from __future__ import annotations

import hashlib


def event_hash(event_id: str) -> int:
    """8 bytes per remembered id: collisions among one lead's last few dozen events are negligible."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def remember(window: tuple[int, ...], hashed: int, size: int) -> tuple[int, ...]:
    """Append ``hashed``, keeping only the newest ``size`` entries."""
    return (*window, hashed)[-size:]
