"""What the comparison apps report to the benchmark: how many events, first and last seen.

Timestamps are taken inside the measured process, so the figure does not depend on how
often the benchmark asks.
"""

from __future__ import annotations

import time
from typing import Any


class Progress:
    def __init__(self) -> None:
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def add(self, events: int) -> None:
        now = time.time()
        if self.first_at is None:
            self.first_at = now
        self.count += events
        self.last_at = now

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.count, "first_at": self.first_at, "last_at": self.last_at}


def configure_comparison_app(app: Any) -> None:
    """The comparison apps read the same environment as ``leadstream worker``, so the benchmark starts
    them the same way (WorkerProcess) with the same topics, partitions and group timing."""
    from streams.config import settings

    @app.on_configured.connect
    def configure(app: Any, conf: Any, **kwargs: object) -> None:
        config = settings()
        conf.id = config.app_id
        conf.broker = f"kafka://{config.bootstrap_servers}"
        conf.store = "memory://"
        conf.topic_partitions = config.partitions
        conf.topic_replication_factor = config.replication_factor
        conf.broker_session_timeout = config.session_timeout_s
        conf.broker_heartbeat_interval = config.heartbeat_interval_s
        conf.broker_rebalance_timeout = config.rebalance_timeout_s
        conf.web_host = config.web_host
        conf.web_bind = config.web_host
        conf.web_port = config.web_port
        conf.datadir = str(config.data_dir)
        conf.consumer_auto_offset_reset = "earliest"
        conf.broker_credentials = config.security.faust_credentials()
