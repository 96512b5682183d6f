"""Every table the app keeps, declared once. All state lives here, backed by changelogs."""

from __future__ import annotations

import faust

from streams.app import app

# Raw bytes on both sides, so keys read back from the changelog on recovery equal the keys
# written, and the value codec stays ours (streams/codecs.py), not Faust's model machinery.
RAW_BYTES = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

# Lead id -> the lead's encoded state.
leads_table = app.Table("leads", schema=RAW_BYTES)
