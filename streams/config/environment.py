"""Settings from environment variables, validated once with errors that name the variable."""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from scoring import HoldLimits, ScoringModel, ModelError, load_model, parse_model
from scoring.model_loading import default_model_text
from streams.config.clock import Clock, clock_from
from streams.config.variables import flag_from, number_from, text_from
from streams.errors import ConfigError
from streams.config.kafka_security import KafkaSecurity, security_from
from streams.config.web_access import WebAccess, web_access_from
from streams.contracts.consent import OPT_OUT, ConsentPolicy, consent_policy_from


MAX_HELD_LIMIT = 200
# LEADSTREAM_MAX_RECORD_BYTES: what one record the worker writes may take, well under Kafka's 1 MB
# default message.max.bytes (and Faust's 1,000,000-byte max request) with room for the record's framing.
DEFAULT_MAX_RECORD_BYTES = 256 * 1024
MAX_RECORD_BYTES_RANGE = (16 * 1024, 900_000)
# Where streams/worker/faults.py may crash a worker on purpose (tests only): LEADSTREAM_FAULT_CRASH_AT.
FAULT_POINTS = ("after-store",)
# LEADSTREAM_STORE: where the worker keeps its tables. rocksdb: on local disk under LEADSTREAM_DATA_DIR, with the
# changelog offset, so a restart reads only the changelog's tail (a partition older than its changelog's tombstones
# could be is rebuilt, and one assigned elsewhere deleted: streams/worker/state_retention.py); memory: rebuilt from
# the whole changelog each start.
STORES = ("rocksdb", "memory")


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str
    app_id: str
    topic_prefix: str  # lets several deployments (or test runs) share one cluster
    partitions: int
    replication_factor: int
    model_path: Path | None  # None: the shipped default model
    max_event_bytes: int
    max_batch_records: int
    session_timeout_s: float
    heartbeat_interval_s: float
    rebalance_timeout_s: float
    web_host: str
    web_port: int
    data_dir: Path
    store: str = "rocksdb"  # LEADSTREAM_STORE
    state_memory_mb: int = 256  # LEADSTREAM_STATE_MEMORY_MB: RocksDB's block cache, write buffers charged to it
    standby_replicas: int = 1  # LEADSTREAM_STANDBY_REPLICAS: warm copies of each table partition on other workers (Faust's default)
    security: KafkaSecurity = KafkaSecurity()
    web: WebAccess = WebAccess()  # the HTTP server's tokens and guards (streams/config/web_access.py)
    advertised_url: str = ""  # how other workers reach this one's web server
    clock: Clock = Clock()
    demotion_tick_s: float = 1.0
    # How often each worker publishes consumer lag, looks for dropped fetches and commits what it
    # has handled: production keeps the defaults; tests shorten them instead of waiting them out.
    lag_probe_s: float = 10.0
    heal_check_s: float = 2.0
    commit_interval_s: float = 2.8  # Faust's own default (broker_commit_interval)
    raw_retention_days: float = 30.0  # set on leads.events.raw when the app creates it; -1: kept forever
    anonymous_ttl_s: float = 30 * 86_400.0  # an anonymous visitor's held history is forgotten after this
    anonymous_max_events: int = 100  # held per anonymous visitor; older ones are dropped
    fault_crash_at: tuple[str, str] | None = None  # (point, lead id): tests only, see streams/worker/faults.py
    # LEADSTREAM_FAUST_UNTESTED: start even when a Faust or aiokafka function an override replaces
    # differs from the one it was written against (streams/faust_ext/guard.py), with a warning each.
    faust_untested: bool = False
    # The most one accounts.members record may take: a batch's member updates for one account are split under it.
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    # LEADSTREAM_CONSENT: under opt-in, an event without a consent signal is ignored (no_consent).
    consent: ConsentPolicy = OPT_OUT
    log_lead_ids: bool = False  # LEADSTREAM_LOG_LEAD_IDS: logs show lead ids whole (debugging) instead of tags
    # LEADSTREAM_COLLECTOR_BOT_PATTERNS: the user agents taken as bots (None: the built-in list), for both roles.
    bot_patterns: str | None = None

    def __post_init__(self) -> None:
        if not self.advertised_url:
            # 0.0.0.0 is where we listen, not an address another worker can call.
            host = socket.gethostname() if self.web_host in ("0.0.0.0", "::") else self.web_host
            object.__setattr__(self, "advertised_url", f"http://{host}:{self.web_port}")

    @property
    def api_token(self) -> str | None:
        """The read token: the lead API and the board need it as "Authorization: Bearer <token>"."""
        return self.web.read_token

    def hold_limits(self) -> HoldLimits:
        """How many anonymous events are held per visitor, and for how long."""
        return HoldLimits(max_events=self.anonymous_max_events, ttl_s=self.anonymous_ttl_s)


def _fault_crash_at(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    point, _, lead_id = raw.partition(":")
    if point not in FAULT_POINTS or not lead_id:
        raise ConfigError(f"{name}: expected <point>:<lead id> with a point among {', '.join(FAULT_POINTS)},"
                          f" got {raw!r}")
    return point, lead_id


def settings_from(env: Mapping[str, str]) -> Settings:
    model = env.get("LEADSTREAM_MODEL", "").strip()
    session_timeout = number_from(env, "LEADSTREAM_SESSION_TIMEOUT_S", 30.0, 1.0)
    heartbeat = number_from(env, "LEADSTREAM_HEARTBEAT_INTERVAL_S", 3.0, 0.1)
    if heartbeat >= session_timeout:
        raise ConfigError(
            f"LEADSTREAM_HEARTBEAT_INTERVAL_S: must be below LEADSTREAM_SESSION_TIMEOUT_S"
            f" ({session_timeout:g}), got {heartbeat:g}"
        )
    max_held = number_from(env, "LEADSTREAM_ANONYMOUS_MAX_EVENTS", 100, 1, integer=True)
    if max_held > MAX_HELD_LIMIT:
        # The held history is one table value: it must stay well inside Kafka's 1 MB message limit.
        raise ConfigError(f"LEADSTREAM_ANONYMOUS_MAX_EVENTS: at most {MAX_HELD_LIMIT}, got {max_held}")
    max_record_bytes = number_from(env, "LEADSTREAM_MAX_RECORD_BYTES", DEFAULT_MAX_RECORD_BYTES,
                                   MAX_RECORD_BYTES_RANGE[0], integer=True)
    if max_record_bytes > MAX_RECORD_BYTES_RANGE[1]:
        raise ConfigError(f"LEADSTREAM_MAX_RECORD_BYTES: at most {MAX_RECORD_BYTES_RANGE[1]} (under Kafka's 1 MB"
                          f" message limit), got {max_record_bytes}")
    return Settings(
        bootstrap_servers=text_from(env, "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        app_id=text_from(env, "LEADSTREAM_APP_ID", "leadstream"),
        topic_prefix=env.get("LEADSTREAM_TOPIC_PREFIX", "").strip(),
        partitions=number_from(env, "LEADSTREAM_PARTITIONS", 8, 1, integer=True),
        replication_factor=number_from(env, "LEADSTREAM_REPLICATION_FACTOR", 1, 1, integer=True),
        model_path=Path(model) if model else None,
        max_event_bytes=number_from(env, "LEADSTREAM_MAX_EVENT_BYTES", 32 * 1024, 256, integer=True),
        max_batch_records=number_from(env, "LEADSTREAM_MAX_BATCH_RECORDS", 4000, 1, integer=True),
        session_timeout_s=session_timeout,
        heartbeat_interval_s=heartbeat,
        rebalance_timeout_s=number_from(env, "LEADSTREAM_REBALANCE_TIMEOUT_S", 60.0, 1.0),
        web_host=text_from(env, "LEADSTREAM_WEB_HOST", "127.0.0.1"),
        web_port=number_from(env, "LEADSTREAM_WEB_PORT", 6066, 0, integer=True),
        data_dir=Path(text_from(env, "LEADSTREAM_DATA_DIR", "./leadstream-data")),
        store=_choice(env, "LEADSTREAM_STORE", "rocksdb", STORES),
        state_memory_mb=number_from(env, "LEADSTREAM_STATE_MEMORY_MB", 256, 16, integer=True),
        standby_replicas=number_from(env, "LEADSTREAM_STANDBY_REPLICAS", 1, 0, integer=True),
        security=security_from(env),
        web=web_access_from(env),
        advertised_url=env.get("LEADSTREAM_WEB_ADVERTISED_URL", "").strip().rstrip("/"),
        clock=clock_from(env.get("LEADSTREAM_CLOCK", "wall")),
        demotion_tick_s=number_from(env, "LEADSTREAM_DEMOTION_TICK_S", 1.0, 0.05),
        lag_probe_s=number_from(env, "LEADSTREAM_LAG_PROBE_S", 10.0, 0.1),
        heal_check_s=number_from(env, "LEADSTREAM_HEAL_CHECK_S", 2.0, 0.1),
        commit_interval_s=number_from(env, "LEADSTREAM_COMMIT_INTERVAL_S", 2.8, 0.1),
        raw_retention_days=_retention_days(env, "LEADSTREAM_RAW_RETENTION_DAYS", 30.0),
        anonymous_ttl_s=number_from(env, "LEADSTREAM_ANONYMOUS_TTL_S", 30 * 86_400.0, 0.5),
        anonymous_max_events=max_held,
        fault_crash_at=_fault_crash_at(env, "LEADSTREAM_FAULT_CRASH_AT"),
        faust_untested=flag_from(env, "LEADSTREAM_FAUST_UNTESTED", False),
        max_record_bytes=max_record_bytes,
        consent=consent_policy_from(env),
        log_lead_ids=flag_from(env, "LEADSTREAM_LOG_LEAD_IDS", False),
        bot_patterns=_bot_patterns(env, "LEADSTREAM_COLLECTOR_BOT_PATTERNS"),
    )


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = text_from(env, name, default).lower()
    if value not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {env.get(name)!r}")
    return value


def _bot_patterns(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        re.compile(raw)
    except re.error as exc:
        raise ConfigError(f"{name}: not a regular expression ({exc}); e.g. bot|crawl|spider|headless") from None
    return raw


def _retention_days(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if raw in ("-1", "forever"):
        return -1.0
    return number_from(env, name, default, 0.001)


@cache
def settings() -> Settings:
    """The process's settings, read from the environment once."""
    return settings_from(os.environ)


def file_model() -> ScoringModel:
    """The scoring model named by LEADSTREAM_MODEL (or the shipped default), validated once."""
    return _file_model()[0]


def file_model_text() -> str:
    """The text ``file_model()`` was parsed from, read in the same go: its digest names what runs."""
    return _file_model()[1]


def file_model_source() -> str:
    path = settings().model_path
    return f"LEADSTREAM_MODEL={path}" if path is not None else "the shipped default model (LEADSTREAM_MODEL unset)"


@cache
def _file_model() -> tuple[ScoringModel, str]:
    path = settings().model_path
    if path is None:
        return load_model(None), default_model_text()
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ModelError(f"model file {path}: cannot be read: {exc.strerror}") from exc
    return parse_model(text, source=str(path)), text


def model_digest(text: str) -> str:
    """The content digest of a model file: two files with one version and other contents differ here."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class _LiveModel:
    """The model this process scores with: the file's until ``leadstream model apply`` replaces it.

    Configuration, not lead state: every worker reads the same applied model from leads.control
    (streams/worker/model_rollout.py), at start and whenever a new one is applied.
    """

    applied: ScoringModel | None = None


def scoring_model() -> ScoringModel:
    """The model in use now: the latest applied one, else LEADSTREAM_MODEL's (or the shipped default)."""
    return _LiveModel.applied or file_model()


def use_model(model: ScoringModel) -> None:
    _LiveModel.applied = model
