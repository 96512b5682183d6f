"""Reading an IP address however it is written, and truncating it: IPv4 to its /24, IPv6 to its /48.

Python's ``ipaddress`` reads the standard forms only. A browser (the WHATWG URL standard), and
the C library's ``inet_aton`` behind many servers, also read ``3405803853``, ``0xcb.0.0x71.0x4d``,
``0313.0.0161.0115``, ``203.0.29005``, ``203.0.113.77.`` (a trailing dot) as 203.0.113.77; and a
zero-padded ``203.000.113.077`` is what its writer meant as 203.0.113.77. Whatever reads an
address after us might read it in any of these ways, so every one of them is an address here.
"""

from __future__ import annotations

import functools
import ipaddress
import re

IPV4_KEPT_BITS = 24  # the last octet goes
IPV6_KEPT_BITS = 48  # the last 80 bits go
# A 6to4 address (2002::/16) carries a whole IPv4 address in bits 16..47: its /48 would keep it.
SIX_TO_FOUR_KEPT_BITS = 16 + IPV4_KEPT_BITS

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_DECIMAL, _OCTAL, _HEX = frozenset("0123456789"), frozenset("01234567"), frozenset("0123456789abcdefABCDEF")
_WITH_PORT = re.compile(r"(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:]+)):\d{1,5}")


def parse_address(value: str | int) -> Address | None:
    """The address ``value`` names under any common reading (zero-padded decimal before a browser's), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _integer_address(value)
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if ":" in text:
        with_port = _WITH_PORT.fullmatch(text)  # a client address with its port, "203.0.113.7:51234"
        return parse_address(with_port["v6"] or with_port["v4"]) if with_port else None
    return padded_decimal_ipv4(text) or browser_ipv4(text)


def _integer_address(number: int) -> Address | None:
    if 0 <= number < 2 ** 32:
        return ipaddress.IPv4Address(number)
    if 2 ** 32 <= number < 2 ** 128:
        return ipaddress.IPv6Address(number)
    return None


def padded_decimal_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """``203.000.113.077`` (or with a trailing dot) read as decimal: four parts of ASCII digits, each ≤ 255."""
    parts = _parts(text)
    if parts is None or len(parts) != 4 or not all(part and set(part) <= _DECIMAL for part in parts):
        return None
    octets = [int(part) for part in parts]
    return ipaddress.IPv4Address(bytes(octets)) if max(octets) <= 255 else None


def browser_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """The WHATWG URL standard's IPv4 parser: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x)."""
    parts = _parts(text)
    if parts is None or not 1 <= len(parts) <= 4:
        return None
    numbers = [_browser_number(part) for part in parts]
    if any(number is None for number in numbers) or any(number > 255 for number in numbers[:-1]):
        return None
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1] + sum(number * 256 ** (3 - index) for index, number in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def _parts(text: str) -> list[str] | None:
    parts = text.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot is allowed, as in a fully qualified name
    return None if any(part == "" for part in parts) else parts


def _browser_number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, base, allowed = part[2:], 16, _HEX
    elif len(part) > 1 and part[0] == "0":
        digits, base, allowed = part[1:], 8, _OCTAL
    else:
        digits, base, allowed = part, 10, _DECIMAL
    if not set(digits) <= allowed:
        return None
    return int(digits, base) if digits else 0


def truncate_address(address: Address) -> Address:
    """The network part only: an IPv4 /24, an IPv6 /48 (an IPv4 inside a 6to4 or mapped address kept to its /24)."""
    if isinstance(address, ipaddress.IPv4Address):
        return ipaddress.IPv4Address(_masked(int(address), 32, IPV4_KEPT_BITS))
    if address.ipv4_mapped is not None:
        return ipaddress.IPv6Address(_masked(int(address), 128, 96 + IPV4_KEPT_BITS))
    kept = SIX_TO_FOUR_KEPT_BITS if address.sixtofour is not None else IPV6_KEPT_BITS
    return ipaddress.IPv6Address(_masked(int(address), 128, kept))  # the zone (%eth0), if any, goes too


def _masked(value: int, width: int, kept: int) -> int:
    return value & (((1 << kept) - 1) << (width - kept))


# The same few addresses come again and again (a network's clients, already truncated ones).
@functools.lru_cache(maxsize=4096)
def truncate_ip(value: str | int) -> str | None:
    """The truncated address ``value`` names, in its standard form, or None when it names none."""
    address = parse_address(value)
    return None if address is None else standard_form(truncate_address(address))


def standard_form(address: Address) -> str:
    """``str(address)``, but a mapped IPv4 address written as one (``::ffff:198.51.100.0``)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return "::ffff:" + str(address.ipv4_mapped)
    return str(address)
