"""Client IPs are truncated wherever they appear: IPv4 to its /24, IPv6 to its /48."""

from __future__ import annotations

import ipaddress
import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contracts.addresses import browser_ipv4, padded_decimal_ipv4
from streams.contracts.privacy import CANDIDATE_PATTERN, truncate_ip, truncate_ips, truncate_text_ips


@pytest.mark.parametrize(("address", "truncated"), [
    ("203.0.113.77", "203.0.113.0"),
    ("10.0.0.255", "10.0.0.0"),
    ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
    ("[2001:db8::1]", "2001:db8::"),
    ("::ffff:198.51.100.9", "::ffff:198.51.100.0"),
    ("::1", "::"),
])
def test_an_address_keeps_its_network_and_loses_its_host(address, truncated):
    assert truncate_ip(address) == truncated


@pytest.mark.parametrize("text", ["", "localhost", "999.1.1.1", "09:00:00", "00:1a:2b:3c:4d:5e", "1..2.3", "08.09.1.1x"])
def test_what_is_not_an_address_is_not_truncated(text):
    assert truncate_ip(text) is None


@pytest.mark.parametrize(("raw", "expected"), [
    (b'{"context":{"ip":"203.0.113.77"}}', b'{"context":{"ip":"203.0.113.0"}}'),
    (b'X-Forwarded-For: 198.51.100.7, 10.1.2.3', b'X-Forwarded-For: 198.51.100.0, 10.1.2.0'),
    (b"10.0.0.5:8080 and [2001:db8::1]:443", b"10.0.0.0:8080 and [2001:db8::]:443"),
    (b"\xff\xfe not utf-8 8.8.8.8", b"\xff\xfe not utf-8 8.8.8.0"),
])
def test_every_address_in_a_record_is_truncated_json_or_not(raw, expected):
    assert truncate_ips(raw) == expected


@pytest.mark.parametrize("raw", [
    b"Mozilla/5.0 Chrome/120.0.6099.109 Safari/537.36",
    b'"timestamp": "2026-11-02T09:00:00+00:00"',
    b"version 1.2.3.4.5",
    b"mac 00:1a:2b:3c:4d:5e",
])
def test_versions_times_and_mac_addresses_are_left_alone(raw):
    assert truncate_ips(raw) == raw


@given(st.ip_addresses())
def test_no_whole_address_survives_inside_a_json_string(address):
    raw = b'{"ip": "' + str(address).encode() + b'"}'
    truncated = truncate_ips(raw)
    kept = ipaddress.ip_address(orjson.loads(truncated)["ip"])
    bits = 24 if address.version == 4 else 40 if address.sixtofour is not None else 48
    if address.version == 6 and address.ipv4_mapped is not None:
        assert kept.ipv4_mapped == ipaddress.ip_network(f"{address.ipv4_mapped}/24", strict=False).network_address
    else:
        assert kept == ipaddress.ip_network(f"{address}/{bits}", strict=False).network_address


# The candidate pattern tried at every position, each match parsed: what the fast path must equal.
_PLAIN_CANDIDATE = re.compile(CANDIDATE_PATTERN)


def _scanned_everywhere(raw: bytes) -> bytes:
    def truncated(match):
        text = match.group().decode("ascii")
        if ":" in text:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                return match.group()
            return truncate_ip(str(address)).encode("ascii")
        quad, dot = (text[:-1], ".") if text.endswith(".") else (text, "")
        if padded_decimal_ipv4(quad) is None and browser_ipv4(quad) is None:
            return match.group()
        return (quad.rsplit(".", 1)[0] + ".0" + dot).encode("ascii")
    return _PLAIN_CANDIDATE.sub(truncated, raw)


_ADDRESSISH = st.lists(st.one_of(
    st.ip_addresses().map(str), st.sampled_from(["Chrome/126.0.0.0", "09:00:00", "::", ":", ".", "a", "g", "[", "]",
                                                 "255.255.255.255", "1.2.3", "00:1a:2b:3c:4d:5e", ":8080", "01.2.3.4",
                                                 "0x", "0X1f.", "203.000.113.077", "08"]),
    st.text(alphabet="0123456789abcdefABCDEFxXg.:-/ []\"", max_size=12),
), max_size=8).map(lambda parts: "".join(parts).encode())


@settings(max_examples=1000)
@given(st.one_of(_ADDRESSISH, st.binary(max_size=64)))
def test_the_fast_path_truncates_exactly_what_parsing_every_candidate_does(raw):
    assert truncate_text_ips(raw) == _scanned_everywhere(raw)


_AGENTS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
           "Safari/537.36", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
           "curl/8.4.0", "Chrome/126.0.0.0", "Version/17.4.1 Mobile/15E148")
_SEGMENT_EVENTS = st.builds(
    lambda agent, address, moment, extra: (
        '{"messageId":"m-0001","timestamp":"%s","context":{"userAgent":"%s","ip":"%s"},"properties":{"x":"%s"}}'
        % (moment, agent, address, extra)).encode(),
    st.sampled_from(_AGENTS) | st.text(alphabet="0123456789abcdefghxyzABC./:;() _", max_size=40),
    st.ip_addresses().map(str) | st.sampled_from(["203.0.113.77", "::ffff:198.51.100.9", "10.0.0.5:8080"]),
    st.datetimes().map(lambda moment: moment.isoformat(timespec="milliseconds") + "+00:00"),
    st.text(alphabet="0123456789abcdef.:[] ,", max_size=30),
)


@settings(max_examples=400)
@given(_SEGMENT_EVENTS)
def test_segment_events_are_truncated_exactly_as_scanning_every_position_does(raw):
    assert truncate_text_ips(raw) == _scanned_everywhere(raw)


def _every_value_visited(raw: bytes) -> bytes:
    """truncate_ips as it once read address fields: every value of the decoded record visited, keys judged each time."""
    from streams.contracts.privacy import _fields_need_reading, is_ip_field

    if not _fields_need_reading(raw):
        return truncate_text_ips(raw)
    document = orjson.loads(raw)
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for name in [name for name in node if is_ip_field(name)]:
                value = node[name]
                truncated = truncate_ip(value) if isinstance(value, str | int) else None
                if truncated is None:
                    del node[name]
                else:
                    node[name] = truncated
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return truncate_text_ips(orjson.dumps(document))


_FIELD_NAMES = st.sampled_from(["ip", "IP", "ipAddress", "ip_address", "clientIp", "Client_IP", "i_p", "tip", "name"])
_FIELD_VALUES = (st.ip_addresses().map(str) | st.sampled_from(["203.0.113.77", "10.0.0.5:8080", "nope", ""])
                 | st.integers(min_value=0, max_value=2**32) | st.booleans() | st.none() | st.text(max_size=8))
_DOCUMENTS = st.recursive(st.dictionaries(_FIELD_NAMES, _FIELD_VALUES, max_size=4),
                          lambda inner: st.dictionaries(_FIELD_NAMES, inner | st.lists(inner, max_size=2), max_size=3),
                          max_leaves=8)


@settings(max_examples=300)
@given(_DOCUMENTS)
def test_address_fields_at_any_depth_are_truncated_or_dropped_as_visiting_every_value_does(document):
    raw = orjson.dumps(document)
    assert truncate_ips(raw) == _every_value_visited(raw)
