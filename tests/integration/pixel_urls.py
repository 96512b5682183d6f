"""Signed pixel URLs, built as docs/collector.md tells an e-mail tool or a page server to build them.

Written from the documented recipe, not with the collector's own code, so a test using it checks
that the collector accepts what the documentation says to send.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

PIXEL_KEY_ID = "mail"
PIXEL_SECRET = "mail-tool-signing-key-0123456789abcdef"  # 32+ characters, as the setting requires
PIXEL_KEYS_ENV = {"LEADSTREAM_COLLECTOR_PIXEL_KEYS": f"{PIXEL_KEY_ID}:{PIXEL_SECRET}"}


def signed_pixel_path(params: dict[str, str], key_id: str = PIXEL_KEY_ID, secret: str = PIXEL_SECRET) -> str:
    """``/p.gif?...&kid=...&sig=...``: every parameter but sig, RFC 3986-encoded, sorted, joined, HMAC-SHA256'd."""
    pairs = sorted({**params, "kid": key_id}.items())
    canonical = "&".join(f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" for name, value in pairs)
    signature = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()
    return f"/p.gif?{canonical}&sig={signature}"
