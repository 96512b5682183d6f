"""What the worker's lead indexes need of each lead, in 100 bytes: kept beside the lead on disk, read at recovery.

After a recovery the census, the lead index, the demotion index and the revisit queue are
rebuilt for the partitions now owned. Decoding every lead's record for it cost about 40 µs a
lead (40 s at a million); on RocksDB each lead's summary is written with the lead, in the same
atomic write (streams/worker/state_store.py), so the rebuild reads summaries instead. A summary
holds what a model decided (its next due time, its standing), so it names the model it was made
under: one made under another model is made again from the lead's record.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Iterator
from typing import NamedTuple
from types import MappingProxyType

import msgspec

from scoring import LeadState, ScoringModel
from scoring.revisit import awaiting_revisit, next_due
from streams.contracts import lead_records
from streams.worker import metrics, stored_summaries
from streams.worker.census import Bucket, bucket
from streams.worker.lead_index import standing

# Model fingerprint, the mark of the version the lead was classified under, next due time, revisit due time
# (NaN: none), the lead index's entry; then "stage temperature".
# Led by a format byte: a summary of another layout is made again from its lead, never misread.
_FIXED = struct.Struct("<c8s8sdd56s")
_FORMAT = b"\x01"
_UNVERSIONED = bytes(8)  # a lead stored before versions were kept
_BUCKETS: dict[bytes, Bucket] = {}


class Summary(NamedTuple):  # a tuple: a recount makes a million of them
    bucket: Bucket
    due: float | None
    revisit: float | None
    standing: bytes
    classified: bytes  # ``version_mark`` of the model version the lead was last classified under


def version_mark(version: str | None) -> bytes:
    if version is None:
        return _UNVERSIONED
    return hashlib.blake2b(version.encode(), digest_size=8).digest()


class Fingerprint:
    """The model's fingerprint, worked out once per model object (a rollout swaps the object)."""

    def __init__(self) -> None:
        self._model: ScoringModel | None = None
        self._fingerprint = b""

    def of(self, model: ScoringModel) -> bytes:
        if model is not self._model:
            # Every threshold, rule and half-life, keys and sets sorted: equal models, in any process, match.
            spelled = msgspec.json.encode(model, enc_hook=_spell, order="sorted")
            self._fingerprint = hashlib.blake2b(spelled, digest_size=8).digest()
            self._model = model
        return self._fingerprint


def _spell(value: object) -> object:
    if isinstance(value, MappingProxyType):
        return dict(value)
    if isinstance(value, re.Pattern):
        return value.pattern
    raise NotImplementedError(f"a scoring model holds a {type(value).__name__}: spell it in lead_summaries._spell")


fingerprint = Fingerprint()


def summarize(state: LeadState, model: ScoringModel) -> Summary:
    revisit = state.revisited_at if awaiting_revisit(state, model) else None
    return Summary(bucket(state), next_due(state, model), revisit,
                   standing(state, model), version_mark(state.model_version))


def encode(summary: Summary, model: ScoringModel) -> bytes:
    due = math.nan if summary.due is None else summary.due
    revisit = math.nan if summary.revisit is None else summary.revisit
    stage, temperature = summary.bucket
    return _FIXED.pack(_FORMAT, fingerprint.of(model), summary.classified, due, revisit, summary.standing) + \
        f"{stage} {temperature}".encode()


def decode(row: bytes, model: ScoringModel) -> Summary | None:
    """The summary in ``row``, or None if it was made under another model (or is not a summary)."""
    if len(row) <= _FIXED.size or row[:1] != _FORMAT or row[1:9] != fingerprint.of(model):
        return None
    _, _, classified, due, revisit, entry = _FIXED.unpack_from(row)
    spelled = row[_FIXED.size:]
    bucket = _BUCKETS.get(spelled)
    if bucket is None:
        stage, _, temperature = spelled.decode().partition(" ")
        bucket = _BUCKETS[spelled] = (stage, temperature)  # one tuple per bucket, shared by every lead in it
    return Summary(bucket, None if due != due else due, None if revisit != revisit else revisit, entry,  # NaN: none
                   classified)


def _remade(key: bytes, record: bytes, model: ScoringModel) -> Summary:
    return summarize(lead_records.decode_state(key.decode(), record), model)


def summary_of_record(key: bytes, record: bytes | None, model: ScoringModel) -> bytes | None:
    """A lead record's summary, for a write that came with none (recovery, standby copies); None: no lead."""
    return encode(_remade(key, record, model), model) if record else None


def owned_summaries(leads: object, active: set[int], partitions: int,
                    model: ScoringModel) -> Iterator[tuple[bytes, int, Summary]]:
    """(key, partition, summary) of every lead of the partitions in ``active``.

    From the summaries stored beside the leads where the store keeps them (RocksDB), else by
    decoding every lead (the memory store, whose recovery read every record anyway).
    """
    return stored_summaries.owned_summaries(
        leads, active, partitions, lambda row: decode(row, model), lambda key, record: _remade(key, record, model),
        metrics.LEAD_SUMMARIES_REMADE)
