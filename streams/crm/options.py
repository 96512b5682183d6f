"""What ``leadstream crm`` runs with: CrmOptions, read from the environment (and a few CLI values).

Tokens come from ``LEADSTREAM_CRM_TOKEN`` or the file ``LEADSTREAM_CRM_TOKEN_FILE`` names, never
from the command line (where `ps` shows them to every user), and never appear in a repr or a log.
Each bad setting is refused at start with an error naming its variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from yarl import URL

from streams.config.environment import Settings
from streams.config.kafka_security import KafkaSecurity
from streams.config.variables import number_from, text_or_file
from streams.contracts.topics import QUALIFICATION
from streams.crm.errors import CrmConfigError

HUBSPOT, SALESFORCE = "hubspot", "salesforce"
# Documented per-request limits: HubSpot's CRM batch endpoints take 100 inputs, sObject Collections 200 records.
BATCH_LIMITS = {HUBSPOT: 100, SALESFORCE: 200}
DEFAULT_URLS = {HUBSPOT: "https://api.hubapi.com"}  # Salesforce: each org has its own instance URL
# HubSpot's lowest documented burst limit (private and OAuth apps): 100 requests per rolling 10 seconds.
DEFAULT_REQUESTS_PER_10S = 100
DEFAULT_WINDOW_S = 5.0
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_MAX_BACKOFF_S = 60.0
DEFAULT_MAX_RETRY_AFTER_S = 120.0
DEFAULT_REQUEST_TIMEOUT_S = 30.0
DEFAULT_SALESFORCE_API_VERSION = "v62.0"
DEAD_LETTER_FILE = "crm-dead-letters.jsonl"

CRM_VARIABLE = "LEADSTREAM_CRM"
TOKEN_VARIABLE = "LEADSTREAM_CRM_TOKEN"
TOKEN_FILE_VARIABLE = "LEADSTREAM_CRM_TOKEN_FILE"
URL_VARIABLE = "LEADSTREAM_CRM_URL"
ID_PROPERTY_VARIABLE = "LEADSTREAM_CRM_ID_PROPERTY"
OBJECT_VARIABLE = "LEADSTREAM_CRM_OBJECT"
EXTERNAL_ID_VARIABLE = "LEADSTREAM_CRM_EXTERNAL_ID_FIELD"
API_VERSION_VARIABLE = "LEADSTREAM_CRM_API_VERSION"
WINDOW_VARIABLE = "LEADSTREAM_CRM_WINDOW_SECONDS"
BATCH_VARIABLE = "LEADSTREAM_CRM_BATCH_SIZE"
RATE_VARIABLE = "LEADSTREAM_CRM_REQUESTS_PER_10S"


@dataclass(frozen=True)
class CrmOptions:
    crm: str  # hubspot or salesforce
    bootstrap: str
    topic: str  # the full (prefixed) qualification topic
    group_id: str
    base_url: str
    token: str = field(repr=False)  # a credential: never in a repr, a log line or a dead letter
    dead_letter_path: Path
    id_property: str = "email"  # HubSpot: the unique contact property a lead is matched by
    sobject: str = "Lead"  # Salesforce: Lead or Contact
    external_id_field: str = ""  # Salesforce: the external-id field holding the lead id
    api_version: str = DEFAULT_SALESFORCE_API_VERSION
    window_s: float = DEFAULT_WINDOW_S
    batch_size: int = 0  # 0: the API's documented limit
    requests_per_10s: int = DEFAULT_REQUESTS_PER_10S
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    max_backoff_s: float = DEFAULT_MAX_BACKOFF_S
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    security: KafkaSecurity = KafkaSecurity()
    crash_after_write: bool = False  # tests only: raise SimulatedCrash after a write, before its commit

    def __post_init__(self) -> None:
        if self.crm not in BATCH_LIMITS:
            raise CrmConfigError(f"{CRM_VARIABLE}: expected hubspot or salesforce, got {self.crm!r}")
        limit = BATCH_LIMITS[self.crm]
        if self.batch_size == 0:
            object.__setattr__(self, "batch_size", limit)
        if not 1 <= self.batch_size <= limit:
            raise CrmConfigError(f"{BATCH_VARIABLE}: {self.crm} takes 1 to {limit} records a request,"
                                 f" got {self.batch_size}")
        if not self.token:
            raise CrmConfigError(f"{TOKEN_VARIABLE}: no token; set it, or {TOKEN_FILE_VARIABLE} to a file holding it")
        _check_url(self.base_url)
        if self.crm == SALESFORCE:
            if not self.external_id_field:
                raise CrmConfigError(f"{EXTERNAL_ID_VARIABLE}: Salesforce upserts need the external-id field"
                                     f" holding the lead id (e.g. Leadstream_Lead_Id__c)")
            if self.sobject not in ("Lead", "Contact"):
                raise CrmConfigError(f"{OBJECT_VARIABLE}: expected Lead or Contact, got {self.sobject!r}")
            if not self.api_version.startswith("v") or not self.api_version[1:].replace(".", "").isdigit():
                raise CrmConfigError(f"{API_VERSION_VARIABLE}: expected a version like v62.0, got {self.api_version!r}")
        if not self.id_property:
            raise CrmConfigError(f"{ID_PROPERTY_VARIABLE}: empty")
        if self.window_s < 0:
            raise CrmConfigError(f"{WINDOW_VARIABLE}: expected seconds ≥ 0, got {self.window_s}")
        if self.requests_per_10s < 1:
            raise CrmConfigError(f"{RATE_VARIABLE}: expected at least 1, got {self.requests_per_10s}")
        if self.request_timeout_s <= 0:
            raise CrmConfigError(f"request_timeout_s: expected a value > 0, got {self.request_timeout_s}")


def crm_options_from(settings: Settings, env: Mapping[str, str], *, group_id: str | None = None,
                     window_s: float | None = None, batch_size: int | None = None,
                     dead_letter_path: Path | str | None = None, **overrides) -> CrmOptions:
    """Options from the environment ``env`` and the CLI values (None: the variable's value or the default)."""
    crm = env.get(CRM_VARIABLE, "").strip().lower()
    if not crm:
        raise CrmConfigError(f"{CRM_VARIABLE}: not set; say which CRM to write to: hubspot or salesforce")
    if crm not in BATCH_LIMITS:
        raise CrmConfigError(f"{CRM_VARIABLE}: expected hubspot or salesforce, got {crm!r}")
    base_url = env.get(URL_VARIABLE, "").strip() or DEFAULT_URLS.get(crm, "")
    if not base_url:
        raise CrmConfigError(f"{URL_VARIABLE}: Salesforce needs the org's instance URL"
                             f" (https://MyDomain.my.salesforce.com)")
    values = dict(
        crm=crm,
        bootstrap=settings.bootstrap_servers,
        topic=settings.topic_prefix + QUALIFICATION,
        group_id=group_id or f"{settings.app_id}-crm",
        base_url=base_url.rstrip("/"),
        token=token_from(env),
        dead_letter_path=Path(dead_letter_path) if dead_letter_path else settings.data_dir / DEAD_LETTER_FILE,
        id_property=env.get(ID_PROPERTY_VARIABLE, "").strip() or "email",
        sobject=env.get(OBJECT_VARIABLE, "").strip() or "Lead",
        external_id_field=env.get(EXTERNAL_ID_VARIABLE, "").strip(),
        api_version=env.get(API_VERSION_VARIABLE, "").strip() or DEFAULT_SALESFORCE_API_VERSION,
        window_s=window_s if window_s is not None else number_from(
            env, WINDOW_VARIABLE, DEFAULT_WINDOW_S, 0, error=CrmConfigError),
        # 0: the CRM's own per-request limit (CrmOptions fills it in and refuses more).
        batch_size=batch_size if batch_size is not None else number_from(
            env, BATCH_VARIABLE, 0, 0, integer=True, error=CrmConfigError),
        requests_per_10s=number_from(env, RATE_VARIABLE, DEFAULT_REQUESTS_PER_10S, 1, integer=True,
                                     error=CrmConfigError),
        security=settings.security,
    )
    values.update(overrides)
    return CrmOptions(**values)


def token_from(env: Mapping[str, str]) -> str:
    """The token from LEADSTREAM_CRM_TOKEN or the file LEADSTREAM_CRM_TOKEN_FILE names; errors never echo it."""
    token = text_or_file(env, TOKEN_VARIABLE, TOKEN_FILE_VARIABLE, CrmConfigError)
    if token is None:
        raise CrmConfigError(f"{TOKEN_VARIABLE}: no token; set it, or {TOKEN_FILE_VARIABLE} to a file holding it")
    return token


def _check_url(url: str) -> None:
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise CrmConfigError(f"{URL_VARIABLE}: expected an http:// or https:// URL with a host, got {url!r}")
