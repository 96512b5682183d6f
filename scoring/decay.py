"""Exponential decay of signal weight over time.

score(t) = Σ points_i · 2^(−(t − t_i)/half_life). Holding, per signal kind, the decayed
count Σ 2^(−(as_of − t_i)/half_life) at one as-of time keeps that sum exact whatever order
the events arrive in, and lets a new weight table apply to held state.
"""

from __future__ import annotations


def decay_factor(elapsed_seconds: float, half_life_seconds: float) -> float:
    """The share of a weight left after ``elapsed_seconds``; never above 1."""
    if elapsed_seconds <= 0.0:
        return 1.0
    return 2.0 ** (-elapsed_seconds / half_life_seconds)


def decayed_to(value: float, from_time: float, to_time: float, half_life_seconds: float) -> float:
    """A decayed sum held as of ``from_time``, seen at ``to_time`` (never in the past)."""
    return value * decay_factor(to_time - from_time, half_life_seconds)


def contribution_at(occurred_at: float, as_of: float, half_life_seconds: float) -> float:
    """What one occurrence at ``occurred_at`` adds to a decayed count held as of ``as_of``.

    An event later than ``as_of`` is never added this way: the sum is first moved to its time.
    """
    return decay_factor(as_of - occurred_at, half_life_seconds)
