"""Addresses in odd forms are truncated too: every form Python's, a browser's or the C library's parser reads.

The property test judges the output with parsers of its own (``ipaddress``, the C library's
``inet_aton``, and zero-padded decimal): no address field holds anything but a truncated address,
and no token of any text reads, under any of them, as an address whose host part is left.
"""

from __future__ import annotations

import ipaddress
import re
import socket

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contracts.privacy import truncate_ip, truncate_ips


@pytest.mark.parametrize(("written", "truncated"), [
    ("3405803853", "203.0.113.0"),  # one 32-bit number, as browsers and inet_aton read it
    ("203.000.113.077", "203.0.113.0"),  # zero-padded: read as its writer meant it
    ("203.0.113.77.", "203.0.113.0"),  # a trailing dot
    ("0xcb.0.0x71.0x4d", "203.0.113.0"),  # hex parts
    ("0313.0.0161.0115", "203.0.113.0"),  # octal parts
    ("203.0.29005", "203.0.113.0"),  # a.b.c: c fills 16 bits
    ("203.0.113.7:51234", "203.0.113.0"),  # with a port
    ("[2001:db8::1]:443", "2001:db8::"),
    ("fe80::1%eth0", "fe80::"),  # a zone
    ("::203.0.113.77", "::"),  # IPv4-compatible
    ("2002:cb00:714d::1", "2002:cb00:7100::"),  # 6to4 holds a whole IPv4 address in its /48: kept to its /24
])
def test_an_address_field_in_any_form_is_stored_truncated_in_its_standard_form(written, truncated):
    assert truncate_ip(written) == truncated
    out = orjson.loads(truncate_ips(orjson.dumps({"context": {"ip": written}, "traits": {"ipAddress": written}})))
    assert out == {"context": {"ip": truncated}, "traits": {"ipAddress": truncated}}


def test_a_numeric_address_field_is_read_as_an_address():
    assert orjson.loads(truncate_ips(b'{"context":{"ip":3405803853}}')) == {"context": {"ip": "203.0.113.0"}}


@pytest.mark.parametrize("value", ['"unknown"', '"999.1.1.1"', '""', "true", "[1, 2]", '{"v4": "203.0.113.77"}'])
def test_an_address_field_that_names_no_address_is_dropped(value):
    out = orjson.loads(truncate_ips(b'{"type":"page","context":{"ip":' + value.encode() + b',"locale":"en"}}'))
    assert out == {"type": "page", "context": {"locale": "en"}}


@pytest.mark.parametrize(("text", "expected"), [
    ("from 203.000.113.077 today", "from 203.000.113.0 today"),
    ("at 203.0.113.77.", "at 203.0.113.0."),
    ("hex 0xcb.0.0x71.0x4d,", "hex 0xcb.0.0x71.0,"),
    ("v4 in v6 ::203.0.113.77", "v4 in v6 ::"),
    ("version 1.2.3.4.5 and 3405803853 visits and 1.5 hours", "version 1.2.3.4.5 and 3405803853 visits and 1.5 hours"),
])
def test_odd_dotted_forms_in_free_text_are_truncated_and_numbers_left_alone(text, expected):
    assert orjson.loads(truncate_ips(orjson.dumps({"properties": {"note": text}}))) == {"properties": {"note": expected}}


def test_an_address_spelled_with_json_escapes_is_truncated_too():
    raw = b'{"properties":{"note":"\\u0032\\u0030\\u0033.0.113.77"},"context":{"\\u0069p":"198.51.100.9"}}'
    assert orjson.loads(truncate_ips(raw)) == {"properties": {"note": "203.0.113.0"},
                                               "context": {"ip": "198.51.100.0"}}


# --- the property: judged by parsers other than the one under test ----------------------------

def _kept_bits(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    if address.version == 4:
        return 24
    if address.ipv4_mapped is not None:
        return 96 + 24
    return 40 if address.sixtofour is not None else 48


def _is_truncated(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    width = address.max_prefixlen
    return int(address) & ((1 << (width - _kept_bits(address))) - 1) == 0


def _readings(token: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``token`` reads as: ipaddress, inet_aton (4 parts), zero-padded decimal; a port or zone aside."""
    found = []
    text = token.strip("[]")
    if (port := re.fullmatch(r"\[?([^\]]*?)\]?:\d{1,5}", token)) and port.group(1).count(":") != 1:
        text = port.group(1) if "." in port.group(1) or "[" in token else text
    text = text.split("%")[0] if ":" in text else text
    try:
        found.append(ipaddress.ip_address(text))
    except ValueError:
        pass
    quad = text[:-1] if text.endswith(".") else text
    if quad.count(".") == 3 and ":" not in quad:
        try:
            found.append(ipaddress.IPv4Address(socket.inet_aton(quad)))
        except OSError:
            pass
        parts = quad.split(".")
        if all(part.isascii() and part.isdigit() and int(part) <= 255 for part in parts):
            found.append(ipaddress.IPv4Address(".".join(str(int(part)) for part in parts)))
    return found


_SEPARATORS = re.compile(r"[\s,;/=&()\"'<>?#@]+")


def _untruncated_in(text: str) -> list[str]:
    return [token for token in _SEPARATORS.split(text) if any(not _is_truncated(a) for a in _readings(token))]


def _address_forms(address: ipaddress.IPv4Address) -> list[str]:
    octets = address.packed
    return [str(address), str(int(address)), ".".join(f"{o:03d}" for o in octets), f"{address}.",
            ".".join(f"0x{o:x}" for o in octets), ".".join(f"0{o:o}" for o in octets),
            f"{octets[0]}.{octets[1]}.{int.from_bytes(octets[2:], 'big')}", f"{address}:8080",
            f"::{address}", f"::ffff:{address}", f"2002:{octets[0]:02x}{octets[1]:02x}:{octets[2]:02x}{octets[3]:02x}::1"]


_FORMS = st.ip_addresses(v=4).flatmap(lambda a: st.sampled_from(_address_forms(a))) | st.ip_addresses().map(str) \
    | st.ip_addresses(v=6).map(lambda a: f"[{a}]:443")
_WORDS = st.sampled_from(["Chrome/126.0.6099.109", "1.2.3.4.5", "09:00:00", "1.5", "v1.2.3.4", "ok", "x", ""])
_TEXT = st.lists(_FORMS | _WORDS, max_size=5).flatmap(
    lambda parts: st.lists(st.sampled_from([" ", ", ", "/", "=", "&", "; "]), min_size=len(parts), max_size=len(parts))
    .map(lambda seps: "".join(part + sep for part, sep in zip(parts, seps))))


def _escaped(text: str, every: int) -> str:
    """``text`` as a JSON string body with some characters written as \\u escapes."""
    body = orjson.dumps(text).decode()[1:-1]
    return "".join(f"\\u{ord(c):04x}" if every and i % every == 0 and c not in '\\"' else c for i, c in enumerate(body))


@settings(max_examples=300)
@given(ip=_FORMS, ip_number=st.integers(0, 2 ** 32 - 1), note=_TEXT, agent=_TEXT, every=st.integers(0, 3))
def test_no_output_holds_an_address_that_reads_as_a_whole_host(ip, ip_number, note, agent, every):
    raw = ('{"type":"page","context":{"ip":"%s","userAgent":"%s","device":{"ipAddress":%d}},'
           '"properties":{"note":"%s"}}' % (_escaped(ip, every), _escaped(agent, 0), ip_number, _escaped(note, every)))
    out = orjson.loads(truncate_ips(raw.encode()))

    for field in (out["context"].get("ip"), out["context"]["device"].get("ipAddress")):
        assert field is None or (isinstance(field, str) and _readings(field) and _is_truncated(_readings(field)[0]))
    texts = [out["context"]["userAgent"], out["properties"]["note"]]
    assert [token for text in texts for token in _untruncated_in(text)] == []
