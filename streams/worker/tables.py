"""Every table the app keeps, declared once. All state lives here, backed by changelogs."""

from __future__ import annotations

from scoring import LeadState
from streams.worker.app import app
from streams.worker.batch import stored_state

# Raw bytes on both sides, so keys read back from the changelog on recovery equal the keys
# written, and the value codec stays ours (streams/contracts/lead_records.py and its siblings). Faust picks its codec from
# key_type/value_type (bytes -> raw); a Schema alone would leave the changelog on JSON, and
# recovery would then fail to decode a single key.
#
# use_partitioner: a key's changelog record goes to the key's own partition (Kafka's default
# partitioner, the same murmur2 as streams.contracts.partitioning), not to the partition of whichever
# event Faust considers current. The pipeline writes each key once per batch, and a batch
# spans partitions: without it a write could land on another partition and recovery would be
# corrupt.
# Lead id -> its state and its history (the board's timeline), one record (streams/contracts/lead_records.py encode_lead):
# a crash can never leave the two apart, and each scored lead costs one changelog record per batch.
leads_table = app.Table("leads", key_type=bytes, value_type=bytes, use_partitioner=True)

# Lead id -> when it was erased and what was erased. Kept so that events arriving for an
# erased lead are ignored (reason erased_lead) instead of building a new profile of that person.
erasures_table = app.Table("erasures", key_type=bytes, value_type=bytes, use_partitioner=True)

# Company domain -> the account's members and temperature (fed from accounts.members, keyed by domain).
accounts_table = app.Table("accounts", key_type=bytes, value_type=bytes, use_partitioner=True)

# Visitor id -> its held anonymous history, or the lead identify linked it to (docs/design.md §6).
# Keyed by the visitor id, so it lives on the visitor's partition (where records keyed by the
# anonymousId land); bounded per visitor and expired by a timer on each worker.
visitors_table = app.Table("visitors", key_type=bytes, value_type=bytes, use_partitioner=True)

# An e-mail's digest -> the leads whose profile states it (streams/contracts/email_index.py), on the
# e-mail's partition: erasure by e-mail reaches a lead known by a userId through it.
emails_table = app.Table("emails", key_type=bytes, value_type=bytes, use_partitioner=True)

# Lead id -> its state under the shadow model (streams/worker/shadow_lane.py): its own stage history,
# kept apart so the live state never changes for it.
shadow_leads_table = app.Table("shadow_leads", key_type=bytes, value_type=bytes, use_partitioner=True)


def held_state(key: bytes) -> LeadState | None:
    """The lead's state as its table holds it now, or None."""
    return stored_state(key, leads_table.get(key))

