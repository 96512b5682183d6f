"""Errors raised by the CRM write-back; every one says what failed and what to do."""

from streams.errors import StreamsError


class CrmError(StreamsError):
    """Base class for every error ``leadstream crm`` raises (a refused setting: exit status 2)."""


class CrmConfigError(CrmError):
    """A CRM setting is invalid; the message names the variable or option, never a token's value."""


class TokenRejected(CrmError):
    """The CRM answered 401: the token expired or was revoked. Retrying cannot help; a person must renew it."""


class WriteAbandoned(CrmError):
    """Stopped while waiting to retry: the writes are neither done nor failed, and their offsets stay uncommitted."""


class SimulatedCrash(CrmError):
    """crash_after_write stopped the consumer after a write, before its commit (tests only)."""
