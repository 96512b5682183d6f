"""The leads of each owned partition, by stage and temperature, with what ranks them: the list and the board read it.

Decoding every held lead per list request or per board page cost O(leads) on the event loop
(docs/design.md §4). The index is kept where the census is: every state write of a batch
updates the lead's entry; after each recovery the partitions newly owned are read from the
table, and a lost partition's entries go.

An entry is the lead's table key and 56 bytes: its as-of time and, per decaying component
(interest, intent, negative), the sum of its kinds' capped points and of their uncapped points
at that time. A kind's points at a later time are ``min(points · f, cap)`` with ``f ≤ 1`` the
component's decay factor, which lies between ``min(points, cap) · f`` and ``min(min(points, cap),
points · f)``; so each entry bounds the lead's total now from below and above without decoding
it, and ``ranked`` decodes only the leads whose upper bound reaches the ``limit``-th best lower
bound: about ``limit`` of them, whatever the number held.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

from scoring import LeadState, ScoringModel
from scoring.kinds import Component

Bucket = tuple[str, str]  # (stage, temperature)
Payload = TypeVar("Payload")

TEMPERATURES = ("hot", "warm", "cold")  # the order the list reads them in
_ENTRY = struct.Struct("<7d")  # as_of; interest capped, uncapped; intent ...; negative ...
_SLOT = {Component.INTEREST: 1, Component.INTENT: 3, Component.NEGATIVE: 5}
# The decoded total is rounded to 4 places (streams/api/lead_view.py): the bounds allow for it.
TOLERANCE = 1e-3
EXACT = 1e-9  # bounds this close (relative) pin the total: the lead need not be decoded to be ranked


def standing(state: LeadState, model: ScoringModel) -> bytes:
    """The lead's entry: its as-of time and, per component, its capped and uncapped points then."""
    sums = [state.as_of or 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    rules = model.signals
    for kind, tally in state.tallies.items():
        rule = rules.get(kind)
        if rule is None or tally.decayed <= 0.0:
            continue
        uncapped = rule.points * tally.decayed
        slot = _SLOT[rule.component]
        sums[slot] += uncapped if rule.cap is None or uncapped < rule.cap else rule.cap
        sums[slot + 1] += uncapped
    return _ENTRY.pack(*sums)


def half_lives(model: ScoringModel) -> tuple[float, float, float]:
    seconds = model.half_life_seconds
    return seconds[Component.INTEREST], seconds[Component.INTENT], seconds[Component.NEGATIVE]


def bounds(entry: bytes, now: float, lives: tuple[float, float, float]) -> tuple[float, float]:
    """(lowest, highest) the lead's total can be at ``now``, from its entry alone."""
    as_of, interest, interest_raw, intent, intent_raw, negative, negative_raw = _ENTRY.unpack(entry)
    elapsed = now - as_of if now > as_of else 0.0
    f_interest = 2.0 ** (-elapsed / lives[0])
    f_intent = 2.0 ** (-elapsed / lives[1])
    f_negative = 2.0 ** (-elapsed / lives[2])
    low = interest * f_interest + intent * f_intent - min(negative, negative_raw * f_negative)
    high = min(interest, interest_raw * f_interest) + min(intent, intent_raw * f_intent) - negative * f_negative
    return low, high


class LeadIndex:
    def __init__(self) -> None:
        self._by_partition: dict[int, dict[Bucket, dict[bytes, bytes]]] = {}

    def put(self, partition: int, key: bytes, before: Bucket | None, after: Bucket, entry: bytes) -> None:
        buckets = self._by_partition.setdefault(partition, {})
        if before is not None and before != after and (held := buckets.get(before)) is not None:
            held.pop(key, None)
        buckets.setdefault(after, {})[key] = entry

    def remove(self, partition: int, key: bytes, bucket: Bucket) -> None:
        held = self._by_partition.get(partition, {}).get(bucket)
        if held is not None:
            held.pop(key, None)

    def replace_partitions(self, read: dict[int, dict[Bucket, dict[bytes, bytes]]], active: set[int]) -> None:
        """After a recovery: the entries of the partitions in ``read`` (from the table) replace theirs, the
        other ``active`` partitions keep theirs, and the partitions no longer owned go."""
        self._by_partition = {partition: read[partition] if partition in read else self._by_partition.get(
            partition, {}) for partition in active}

    def partitions(self) -> set[int]:
        return set(self._by_partition)

    def keys(self, partition: int) -> dict[bytes, Bucket]:
        """Every lead of ``partition`` and its bucket (for tests and checks; the list never needs it)."""
        return {key: bucket for bucket, held in self._by_partition.get(partition, {}).items() for key in held}

    def __len__(self) -> int:
        return sum(len(held) for buckets in self._by_partition.values() for held in buckets.values())

    def _band(self, partitions: set[int], stage: str | None, temperature: str) -> list[tuple[bytes, bytes]]:
        band: list[tuple[bytes, bytes]] = []
        for partition in partitions:
            for (held_stage, held_temperature), held in self._by_partition.get(partition, {}).items():
                if held_temperature == temperature and (stage is None or held_stage == stage):
                    band.extend(held.items())
        return band

    def ranked(self, partitions: set[int], stage: str | None, temperature: str | None, limit: int, now: float,
               lives: tuple[float, float, float],
               decode: Callable[[bytes], tuple[float, Payload] | None]) -> list[Payload]:
        """The ``limit`` hottest leads of ``partitions``: hot, warm, cold, then by total at ``now``.

        ``decode(key)`` reads a lead (its total now, and what to return for it), None if it is
        gone; it is called only for the leads returned and those whose place the bounds leave open.
        """
        chosen: list[Payload] = []
        for band_temperature in TEMPERATURES:
            need = limit - len(chosen)
            if need <= 0:
                break
            if temperature is not None and band_temperature != temperature:
                continue
            band = self._band(partitions, stage, band_temperature)
            if len(band) > need:
                chosen.extend(_best(band, need, now, lives, decode))
            else:
                found = [(index, decode(key)) for index, (key, _) in enumerate(band)]
                chosen.extend(payload for _, _, payload in _sorted(
                    (read[0], index, read[1]) for index, read in found if read is not None))
        return chosen



def _best(band: list[tuple[bytes, bytes]], need: int, now: float, lives: tuple[float, float, float],
          decode: Callable[[bytes], tuple[float, Payload] | None]) -> list[Payload]:
    """The ``need`` best of ``band``, decoding only those the bounds cannot place, and those returned.

    A lead whose bounds meet (no capped kind still saturated, say, or no score at all: ties by the
    thousand) has a known total; only the rest are decoded to be ranked.
    """
    ranges = [(bounds(entry, now, lives), key) for key, entry in band]
    floor = heapq.nlargest(need, (low for (low, _), _ in ranges))[-1] - TOLERANCE
    ranked: list[tuple[float, int, bytes, tuple[float, Payload] | None]] = []
    for index, ((low, high), key) in enumerate(ranges):
        if high < floor:
            continue
        if high - low <= EXACT * (1.0 + abs(high)):
            ranked.append((low, index, key, None))
        elif (decoded := decode(key)) is not None:
            ranked.append((decoded[0], index, key, decoded))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    taken = [(index, decoded if decoded is not None else decode(key)) for _, index, key, decoded in ranked[:need]]
    return [payload for _, _, payload in _sorted((read[0], index, read[1]) for index, read in taken
                                                 if read is not None)]


def _sorted(read: Iterable[tuple[float, int, Payload]]) -> list[tuple[float, int, Payload]]:
    """Highest total first; among equals, the order found."""
    return sorted(read, key=lambda item: (-item[0], item[1]))
