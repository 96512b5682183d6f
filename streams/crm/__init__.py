"""``leadstream crm``: each lead's score, stage, temperature, grade and reasons in the CRM where reps work.

A consumer of the qualification topic in its own consumer group (``<app_id>-crm``), writing to
HubSpot (contacts, batch upsert by e-mail or another unique property) or Salesforce (Lead or
Contact, sObject Collections upsert by an external-id field). Changes are coalesced per lead
(coalesce.py), written in batches up to the API's documented limit within its rate limit
(http.py, writer.py), and their offsets committed only once written (consumer.py). Records the
CRM refuses for good are dead-lettered with the API's reason; a ``lead_erased`` notice clears
leadstream's fields on the lead's record. docs/crm.md lists the endpoints, limits and error
shapes this relies on, and the settings.
"""

from streams.crm.consumer import CrmStats, run_crm
from streams.crm.options import CrmOptions, crm_options_from

__all__ = ["CrmOptions", "CrmStats", "crm_options_from", "run_crm"]
