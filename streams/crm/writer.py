"""Writing lead states through a CRM client: in batches up to its limit, a refused batch split to find the culprit.

Upserts and clears go in separate requests (HubSpot clears through its update endpoint). When the
API refuses a whole request (one bad record can make HubSpot answer 400 for the lot), the batch is
halved and each half sent again until the refused record stands alone: it alone is dead-lettered,
with the API's reason, and every other record is written.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from streams.crm.fields import LeadState
from streams.crm.metrics import CRM_BATCH_RECORDS, CRM_WRITE_SECONDS
from streams.crm.results import BatchRefused, CrmClient, RecordResult


def batches(states: list[LeadState], size: int) -> Iterator[list[LeadState]]:
    """Upserts then clears, each in runs of at most ``size``, in the order given."""
    for clears in (False, True):
        run = [state for state in states if state.clears is clears]
        for start in range(0, len(run), size):
            yield run[start:start + size]


async def write_states(client: CrmClient, states: list[LeadState]) -> list[RecordResult]:
    """One result per state (in batch order, not necessarily the order given)."""
    results: list[RecordResult] = []
    for batch in batches(states, client.batch_size):
        results += await _write_isolating(client, batch)
    return results


async def _write_isolating(client: CrmClient, batch: list[LeadState]) -> list[RecordResult]:
    started = time.monotonic()
    try:
        CRM_BATCH_RECORDS.labels(client.name).observe(len(batch))
        results = await client.write(batch)
        CRM_WRITE_SECONDS.observe(time.monotonic() - started)
        return results
    except BatchRefused as refused:
        if len(batch) == 1:
            return [RecordResult(batch[0].lead_id, False, refused.reason, refused.code, refused.status)]
        half = len(batch) // 2
        return await _write_isolating(client, batch[:half]) + await _write_isolating(client, batch[half:])
