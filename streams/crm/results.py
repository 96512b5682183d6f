"""What a CRM said about each record of a write, and the shape every CRM client has.

A client writes a batch of lead states (all upserts, or all clears) and answers one
:class:`RecordResult` per state, in order; a request the API refused as a whole (a 4xx other than
401 and 429) raises :class:`BatchRefused`, so the writer can split the batch and find the record
at fault (writer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from streams.crm.errors import CrmError
from streams.crm.fields import LeadState
from streams.crm.http import ApiCaller
from streams.crm.options import CrmOptions


@dataclass(frozen=True)
class RecordResult:
    lead_id: str
    ok: bool
    reason: str | None = None  # the API's own words, for the dead letter
    code: str | None = None  # the API's error code or category (VALIDATION_ERROR, INVALID_EMAIL_ADDRESS, ...)
    status: int | None = None  # the HTTP status of the answer
    nothing_there: bool = False  # a clear found no record to clear: done, nothing to dead-letter


class BatchRefused(CrmError):
    """The API refused a whole request (4xx): the message is the API's reason."""

    def __init__(self, status: int, code: str | None, reason: str) -> None:
        super().__init__(f"HTTP {status} {code or ''}: {reason}".strip())
        self.status, self.code, self.reason = status, code, reason


class CrmClient(Protocol):
    name: str
    batch_size: int

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def identifies(self, lead_id: str) -> bool:
        """Whether the CRM can match this lead (HubSpot by e-mail needs an e-mail address)."""
        ...

    async def write(self, states: list[LeadState]) -> list[RecordResult]: ...

    async def setup(self) -> list[str]:
        """Creates what is missing (or says what to create); the lines describe what it did or found."""
        ...


class ApiClient:
    """What the HubSpot and Salesforce clients share: the batch size, and the caller they send through."""

    def __init__(self, options: CrmOptions, caller: ApiCaller) -> None:
        self.batch_size = options.batch_size
        self._caller = caller

    async def start(self) -> None:
        await self._caller.start()

    async def close(self) -> None:
        await self._caller.close()
