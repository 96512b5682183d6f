"""``leadstream alerts``: tell sales the moment a lead turns hot (or reaches SQL), with the reasons.

A consumer of the qualification topic in its own consumer group (``<app_id>-alerts``). A change
that promotes a lead into the configured temperatures or stages (default: hot, SQL) becomes a
Slack-compatible message (``text`` + ``blocks``) sent to a webhook, or printed on the console.
Disqualifications never alert; a change from inside the set (hot → hot) is not a promotion.

Delivery guarantee. Each alert is delivered at least once and, outside one window, exactly
once. The consumer records every handled change_id (delivered or dead-lettered) in a local
sqlite store before it commits the record's offset, and skips change_ids already there; so a
redelivered or re-emitted change, or a restart before the commit, sends nothing again.

The one window for a second POST: a crash after the webhook answered 2xx and before the
store recorded the delivery. The restarted consumer reads the uncommitted record, finds no
record of it, and POSTs again. Every POST of one change carries the same
``Idempotency-Key: <change_id>``, so receivers deduplicate by that header (retries after a
timeout, where the first request may have arrived, carry the same key too). A graceful stop
does not open the window: it never interrupts a request, only a backoff pause.

The store is one file on one host: run one ``leadstream alerts`` per consumer group. A second
instance (or a rebalance to another host) re-reads uncommitted records without this store's
memory, and again only the Idempotency-Key prevents a repeat.

Failures: connection errors, timeouts, 5xx and 429 are retried with exponential backoff
(Retry-After honoured up to a bound); other statuses are final. An alert that fails for good is
written to the dead-letter file (JSON lines; optionally also a Kafka topic), recorded as
dead-lettered and committed: it is not retried by a restart. Unreadable records are logged,
counted and committed.
"""

from streams.alerting.consumer import AlertStats, run_alerts
from streams.alerting.options import AlertOptions, alert_options_from

__all__ = ["AlertOptions", "AlertStats", "alert_options_from", "run_alerts"]
