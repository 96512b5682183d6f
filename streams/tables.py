"""Every table the app keeps, declared once. All state lives here, backed by changelogs."""

from __future__ import annotations

from streams.app import app

# Raw bytes on both sides, so keys read back from the changelog on recovery equal the keys
# written, and the value codec stays ours (streams/codecs.py). Faust picks its codec from
# key_type/value_type (bytes -> raw); a Schema alone would leave the changelog on JSON, and
# recovery would then fail to decode a single key.
leads_table = app.Table("leads", key_type=bytes, value_type=bytes)

# Lead id -> when it was erased and what was erased. Kept so that events arriving for an
# erased lead are ignored (reason erased_lead) instead of building a new profile of that person.
erasures_table = app.Table("erasures", key_type=bytes, value_type=bytes)

# Company domain -> the account's members and temperature (fed from accounts.members, keyed by domain).
accounts_table = app.Table("accounts", key_type=bytes, value_type=bytes)

# Lead id -> its latest events and qualification moves (streams/lead_history.py), for the board's
# timeline and score chart. Co-partitioned with the leads table and erased with it; kept apart
# so scoring and the lead list never read or rewrite it.
history_table = app.Table("lead_history", key_type=bytes, value_type=bytes)
# Visitor id -> its held anonymous history, or the lead identify linked it to (DESIGN §3).
# Keyed by the visitor id, so it lives on the visitor's partition (where records keyed by the
# anonymousId land); bounded per visitor and expired by a timer on each worker.
visitors_table = app.Table("visitors", key_type=bytes, value_type=bytes)
