"""Table records in MessagePack behind a leading format byte, beside the JSON that earlier releases wrote.

A record a release before MessagePack wrote is JSON: it starts with ``[`` or ``{``. One written
since starts with its format byte (below ``[``), then one MessagePack value. msgspec encodes and
decodes it in C, floats as 9 bytes instead of up to 24 characters, byte strings as themselves.
A part kept as ``msgspec.Raw`` (a lead's remembered changes, its history) is carried through
without being decoded.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

# What msgspec does not encode itself is the scoring core's read-only mappings (MappingProxyType):
# each is written as a dict of it. ``dict`` itself as the hook, not a function around it: a
# visitor's held signals hold two mappings each, and a Python function per mapping made encoding
# a visitor of bench.topology's tables cost 9.7 µs instead of 4.6.
ENCODER = msgspec.msgpack.Encoder(enc_hook=dict)
_DECODER = msgspec.msgpack.Decoder()
NIL = msgspec.Raw(b"\xc0")  # MessagePack's nil: an absent part


def is_json(raw: bytes) -> bool:
    """Written before MessagePack (a JSON array or object), so read with orjson."""
    return raw[:1] in (b"[", b"{")


def framed(format_byte: bytes, value: Any) -> bytes:
    return format_byte + ENCODER.encode(value)


def unframed(raw: bytes) -> Any:
    """A framed record's value as plain data (its format byte is the caller's to check)."""
    return _DECODER.decode(memoryview(raw)[1:])


def loads(raw: bytes) -> Any:
    """A part or record without a format byte, JSON or MessagePack, as plain data."""
    return orjson.loads(raw) if is_json(raw) else _DECODER.decode(raw)


def raw_part(part: bytes) -> msgspec.Raw | Any:
    """A part to embed in a framed record: MessagePack as is, JSON (an older record's) converted, none as nil."""
    if not part:
        return NIL
    return orjson.loads(part) if is_json(part) else msgspec.Raw(part)


def part_bytes(part: msgspec.Raw) -> bytes:
    """A decoded part as bytes again; empty when absent."""
    return b"" if part == NIL else bytes(part)
