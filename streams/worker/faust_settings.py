"""The Faust settings every app this project runs takes from the environment's settings.

``leadstream worker`` (``streams.worker.app``) and the benchmark's comparison apps (``bench/``) share
them, so the benchmark compares apps with the same broker, store, group timing and web server.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types.auth import SASLMechanism

from streams.config.environment import Settings
from streams.config.kafka_security import KafkaSecurity
from streams.worker.table_recovery import LeadstreamTableManager


def apply_settings(conf: Any, config: Settings) -> None:
    """Set Faust's ``conf`` from ``config`` (called from an app's ``on_configured`` signal)."""
    conf.id = config.app_id
    conf.broker = f"kafka://{config.bootstrap_servers}"
    conf.store = store_url(config)
    conf.table_standby_replicas = config.standby_replicas
    conf.topic_partitions = config.partitions
    conf.topic_replication_factor = config.replication_factor
    conf.broker_session_timeout = config.session_timeout_s
    conf.broker_heartbeat_interval = config.heartbeat_interval_s
    conf.broker_rebalance_timeout = config.rebalance_timeout_s
    conf.broker_commit_interval = config.commit_interval_s
    conf.web_host = config.web_host
    conf.web_bind = config.web_host
    conf.web_port = config.web_port
    # Faust's own pages list every table's keys and where each lives (/table, /router) and the
    # worker's internals (/graph, /stats, /performance), to anyone, without a token: all off.
    conf.web_router_enabled = False
    conf.web_tables_enabled = False
    conf.web_stats_enabled = False
    conf.web_graph_enabled = False
    conf.web_metrics_enabled = False
    conf.datadir = str(config.data_dir)
    conf.consumer_auto_offset_reset = "earliest"
    conf.TableManager = LeadstreamTableManager  # a worker joining during another's recovery must not crash it
    conf.broker_credentials = faust_credentials(config.security)


def store_url(config: Settings) -> str:
    """Faust's store for ``config.store``; on RocksDB, the project's (streams/worker/state_store.py)."""
    if config.store == "memory":
        return "memory://"
    from streams.worker.state_store import STORE_SCHEME, SharedBudget  # rocksdict loads only where it is used

    SharedBudget.set(config.state_memory_mb)
    return f"{STORE_SCHEME}://"


def faust_credentials(security: KafkaSecurity) -> faust.types.auth.CredentialsT | None:
    """The same TLS and SASL settings as ``security.client_kwargs()``, as Faust takes them."""
    if security.uses_sasl:
        return faust.SASLCredentials(
            username=security.sasl_username, password=security.sasl_password,
            ssl_context=security.ssl_context(), mechanism=SASLMechanism(security.sasl_mechanism),
        )
    if security.uses_tls:
        return faust.SSLCredentials(security.ssl_context())
    return None
