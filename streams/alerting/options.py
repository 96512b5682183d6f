"""What ``leadstream alerts`` runs with: AlertOptions, and building them from settings and CLI values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from yarl import URL

from scoring import Stage, Temperature
from streams.alerting.errors import AlertConfigError
from streams.alerting.rules import DEFAULT_STAGES, DEFAULT_TEMPERATURES, AlertRule
from streams.config.kafka_security import KafkaSecurity
from streams.config.environment import Settings
from streams.config.environment import settings as current_settings
from streams.config.secret_values import secret_from
from streams.contracts.topics import QUALIFICATION

ALERT_DEAD_LETTERS = "leads.alerts.dlq"  # unprefixed, like the names in streams/contracts/topics.py
STORE_FILE = "alerts.sqlite3"
DEAD_LETTER_FILE = "alerts-dead-letters.jsonl"
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_REQUEST_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRY_AFTER_S = 60.0
# The webhook URL comes from the environment or a file, never the command line, where `ps` shows it to all.
WEBHOOK_URL_VARIABLE = "LEADSTREAM_ALERTS_WEBHOOK_URL"
WEBHOOK_URL_FILE_VARIABLE = "LEADSTREAM_ALERTS_WEBHOOK_URL_FILE"

E = TypeVar("E", Stage, Temperature)


@dataclass(frozen=True)
class AlertOptions:
    bootstrap: str
    topic: str  # the full (prefixed) qualification topic
    group_id: str
    # None: alerts go to the console. A credential (Slack's URLs carry a secret path): never in a repr.
    webhook_url: str | None = field(repr=False)
    store_path: Path
    dead_letter_path: Path
    dlq_topic: str | None = None  # also send dead letters here (created if missing)
    on_temperatures: frozenset[Temperature] = DEFAULT_TEMPERATURES
    on_stages: frozenset[Stage] = DEFAULT_STAGES
    attempts: int = DEFAULT_ATTEMPTS
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S
    replication_factor: int = 1  # of the DLQ topic, when it has to be created
    security: KafkaSecurity = KafkaSecurity()  # TLS/SASL for managed Kafka, as the worker uses
    crash_after_record: bool = False  # tests only: raise SimulatedCrash between store record and commit

    def __post_init__(self) -> None:
        # Accept names as well as enum members ("hot", Temperature.HOT), held as enum members.
        object.__setattr__(self, "on_temperatures", _members("on_temperatures", self.on_temperatures, Temperature))
        object.__setattr__(self, "on_stages", _members("on_stages", self.on_stages, Stage))
        if Stage.DISQUALIFIED in self.on_stages:
            raise AlertConfigError("on_stages: a disqualification never alerts; remove 'disqualified'")
        if not self.on_temperatures and not self.on_stages:
            raise AlertConfigError("on_temperatures, on_stages: both empty, nothing would ever alert")
        if self.attempts < 1:
            raise AlertConfigError(f"attempts: expected at least 1, got {self.attempts}")
        for name in ("backoff_base_s", "max_retry_after_s"):
            if getattr(self, name) < 0:
                raise AlertConfigError(f"{name}: expected a value ≥ 0, got {getattr(self, name)}")
        if self.request_timeout_s <= 0:
            raise AlertConfigError(f"request_timeout_s: expected a value > 0, got {self.request_timeout_s}")
        if self.webhook_url is not None:
            _check_url(self.webhook_url)

    @property
    def rule(self) -> AlertRule:
        return AlertRule(temperatures=self.on_temperatures, stages=self.on_stages)


def alert_options_from(
    settings: Settings | None = None,
    *,
    bootstrap: str | None = None,
    topic: str | None = None,
    group_id: str | None = None,
    webhook_url: str | None = None,
    store_path: Path | str | None = None,
    dead_letter_path: Path | str | None = None,
    dlq_topic: str | bool | None = None,
    on_temperatures: Iterable[str] | str | None = None,
    on_stages: Iterable[str] | str | None = None,
    attempts: int | None = None,
    backoff_base_s: float | None = None,
    request_timeout_s: float | None = None,
    max_retry_after_s: float | None = None,
) -> AlertOptions:
    """Options from CLI values, each None (or empty) value taking its default from ``settings``.

    Defaults: the prefixed qualification topic, group ``<app_id>-alerts``, the console,
    ``<data_dir>/alerts.sqlite3`` and ``<data_dir>/alerts-dead-letters.jsonl``, no DLQ topic
    (``dlq_topic=True`` means ``<prefix>leads.alerts.dlq``), alerts on entering hot or SQL.
    Temperatures and stages may be given as names or one comma-separated string.
    """
    config = settings or current_settings()
    if dlq_topic is True:
        dlq_topic = config.topic_prefix + ALERT_DEAD_LETTERS
    return AlertOptions(
        bootstrap=bootstrap or config.bootstrap_servers,
        topic=topic or config.topic_prefix + QUALIFICATION,
        group_id=group_id or f"{config.app_id}-alerts",
        webhook_url=webhook_url or None,
        store_path=Path(store_path) if store_path else config.data_dir / STORE_FILE,
        dead_letter_path=Path(dead_letter_path) if dead_letter_path else config.data_dir / DEAD_LETTER_FILE,
        dlq_topic=dlq_topic or None,
        on_temperatures=_names(on_temperatures) if on_temperatures else DEFAULT_TEMPERATURES,
        on_stages=_names(on_stages) if on_stages else DEFAULT_STAGES,
        attempts=DEFAULT_ATTEMPTS if attempts is None else attempts,
        backoff_base_s=DEFAULT_BACKOFF_BASE_S if backoff_base_s is None else backoff_base_s,
        request_timeout_s=DEFAULT_REQUEST_TIMEOUT_S if request_timeout_s is None else request_timeout_s,
        max_retry_after_s=DEFAULT_MAX_RETRY_AFTER_S if max_retry_after_s is None else max_retry_after_s,
        replication_factor=config.replication_factor,
        security=config.security,
    )


def webhook_url_from(env: Mapping[str, str]) -> str | None:
    """The webhook URL from LEADSTREAM_ALERTS_WEBHOOK_URL, or the file LEADSTREAM_ALERTS_WEBHOOK_URL_FILE names.

    Validated here, at start, with errors that name the variable and never echo the URL.
    """
    url, source = secret_from(env, WEBHOOK_URL_VARIABLE, WEBHOOK_URL_FILE_VARIABLE, AlertConfigError)
    if url is None:
        return None
    _check_url(url, source)
    return url


def _names(values: Iterable[str] | str) -> frozenset[str]:
    """Names from ("hot", "warm"), ("hot,warm",) or "hot,warm"."""
    parts = [values] if isinstance(values, str) else list(values)
    return frozenset(name.strip().lower() for part in parts for name in str(part).split(",") if name.strip())


def _members(option: str, values: Iterable[str | E], kind: type[E]) -> frozenset[E]:
    if isinstance(values, str):
        values = _names(values)
    members = set()
    for value in values:
        try:
            members.add(kind(value))
        except ValueError:
            known = ", ".join(member.value for member in kind)
            raise AlertConfigError(f"{option}: {value!r} is not one of {known}") from None
    return frozenset(members)


def _check_url(url: str, name: str = "webhook_url") -> None:
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        # Not echoed: a webhook URL is a credential.
        raise AlertConfigError(f"{name}: expected an http:// or https:// URL with a host")
