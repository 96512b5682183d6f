"""The e-mail index: which leads state an e-mail, kept on that e-mail's partition, so that erasure by e-mail finds them.

A lead known by a ``userId`` is keyed by that id, on its own partition; a data subject who asks
to be forgotten gives their e-mail. Each lead whose profile states an e-mail (other than its own
id) is listed under a digest of that e-mail, placed on the e-mail's partition, where the erasure
command for it runs (docs/privacy.md). The entry names its leads, so it is tombstoned with the
e-mail's erasure, and a lead's erasure or new e-mail takes the lead out of it.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import orjson

from streams.contracts import command_records
from streams.contracts.lead_event_records import digest_key_beside

# The leads one e-mail may name (a person with several userIds, or a shared inbox): the newest are
# kept. A lead past the bound is still erased by its own id, and with its visitors; docs/privacy.md.
MAX_LEADS_PER_EMAIL = 20
EMAIL_KEY_PREFIX = "email:"
# The profile's own test for an e-mail (scoring.profile): one @, no spaces, a dot in the domain.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalised_email(text: str) -> str | None:
    """The e-mail as a profile holds it (trimmed, lower case), or None when ``text`` is not one."""
    text = text.strip()
    return text.lower() if _EMAIL.fullmatch(text) else None


@lru_cache(maxsize=65536)
def index_key(email: str, partitions: int) -> bytes:
    """The index entry's key for a normalised ``email``: a digest, on the e-mail's own partition."""
    digest = hashlib.blake2b(email.encode(), digest_size=16, person=b"leadstream-email").hexdigest()
    return digest_key_beside(email.encode(), EMAIL_KEY_PREFIX, digest, partitions)


def decode_entry(value: bytes | None) -> list[str]:
    return list(orjson.loads(value)) if value else []


def encode_entry(lead_ids: list[str]) -> bytes:
    return orjson.dumps(lead_ids[-MAX_LEADS_PER_EMAIL:])


def index_command(email: str, lead_id: str, issued_at: float, stated: bool) -> tuple[bytes, bytes]:
    """(key, value) on leads.signals: the lead now states ``email`` (``stated``), or no longer does."""
    return email.encode(), command_records.encode_command(command_records.EMAIL, lead_id, issued_at,
                                                          email=email, stated=stated)
