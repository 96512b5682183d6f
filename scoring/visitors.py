"""Anonymous history: what a visitor did before anyone knew who they were.

An anonymous visitor's signals are held per visitor id, bounded and expiring, until identify
(or an alias, or a form giving an email) links the visitor to a lead: then the held signals
are scored for that lead, once, and the visitor's later anonymous signals go straight to it.
The stream shell keeps one ``VisitorState`` per visitor id and does what these decisions say.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from msgspec import Struct
from msgspec.structs import replace

from scoring.signals import Signal


@dataclass(frozen=True)
class HoldLimits:
    max_events: int  # held per visitor; beyond it the oldest is dropped (ignored: expired_anonymous)
    ttl_s: float  # a visitor unseen this long is forgotten, and its held signals ignored


class VisitorState(Struct, frozen=True, gc=False):
    visitor_id: str
    lead_id: str | None = None  # the lead identify linked this visitor to, once it has
    held: tuple[Signal, ...] = ()  # anonymous signals awaiting that link, oldest first
    last_seen: float = 0.0  # when the visitor was last active (receipt time, not event time): drives expiry


class Held(Struct, frozen=True, gc=False):
    """The signal waits in ``state`` (unless it was held already: a redelivery)."""

    state: VisitorState
    evicted: int = 0  # oldest held signals dropped to stay within the bound
    duplicate: bool = False


class Forward(Struct, frozen=True, gc=False):
    """The visitor is linked: score ``signal`` (now the lead's) for the lead."""

    state: VisitorState
    signal: Signal


class Linked(Struct, frozen=True, gc=False):
    """``released`` (the held history, now the lead's) is to be scored for the lead, once."""

    state: VisitorState
    released: tuple[Signal, ...]
    release_id: str | None  # names this release, so a redelivered one is recognised; None if empty


def as_leads(signal: Signal, lead_id: str) -> Signal:
    return replace(signal, lead_id=lead_id, anonymous=False, links_visitor=None)


def on_anonymous(state: VisitorState | None, signal: Signal, seen_at: float, limits: HoldLimits) -> Held | Forward:
    """An anonymous signal of ``signal.lead_id`` (the visitor id): hold it, or forward it to the linked lead."""
    state = state or VisitorState(visitor_id=signal.lead_id)
    state = replace(state, last_seen=max(state.last_seen, seen_at))
    if state.lead_id is not None:
        return Forward(state, as_leads(signal, state.lead_id))
    if any(held.event_id == signal.event_id for held in state.held):
        return Held(state, duplicate=True)
    held = (*state.held, signal)
    evicted = max(len(held) - limits.max_events, 0)
    return Held(replace(state, held=held[evicted:]), evicted=evicted)


def link(state: VisitorState | None, visitor_id: str, lead_id: str, seen_at: float) -> Linked:
    """Identify linked the visitor to ``lead_id``: release what was held, remember the link.

    Idempotent: a repeated identify finds nothing held. A visitor later identified as another
    lead (a shared computer) follows the latest identify.
    """
    state = state or VisitorState(visitor_id=visitor_id)
    released = tuple(as_leads(signal, lead_id) for signal in state.held)
    linked = replace(state, lead_id=lead_id, held=(), last_seen=max(state.last_seen, seen_at))
    return Linked(linked, released, release_id(visitor_id, lead_id, released) if released else None)


def release_id(visitor_id: str, lead_id: str, released: tuple[Signal, ...]) -> str:
    """The same release always gets the same id: the lead remembers it to apply a release once."""
    digest = hashlib.blake2b(digest_size=12)
    for part in (visitor_id, lead_id, *(signal.event_id for signal in released)):
        digest.update(part.encode())
        digest.update(b"\0")
    return f"release:{digest.hexdigest()}"


def expires_at(last_seen: float, limits: HoldLimits) -> float:
    """When a visitor last seen at ``last_seen`` is forgotten, unless seen again before."""
    return last_seen + limits.ttl_s


def is_expired(state: VisitorState, now: float, limits: HoldLimits) -> bool:
    return now >= expires_at(state.last_seen, limits)
