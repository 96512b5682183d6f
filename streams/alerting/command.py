"""``leadstream alerts``: the alerts consumer, run until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal

import click
from prometheus_client import start_http_server

from streams.alerting import alert_options_from, run_alerts
from streams.alerting.options import WEBHOOK_URL_FILE_VARIABLE, WEBHOOK_URL_VARIABLE, webhook_url_from
from streams.cli_support import runs_async
from streams.config.environment import settings
from streams.preflight import check_kafka_answers, check_port_free


def _refuse_url_argument(context: click.Context, parameter: click.Parameter, value: str | None) -> None:
    """A webhook URL is a credential: on the command line every local user sees it in `ps`."""
    if value is not None:
        raise click.UsageError(
            f"--webhook-url is not taken: a URL on the command line shows in `ps` to every user of the machine."
            f" Put it in {WEBHOOK_URL_VARIABLE}, or in a file named by {WEBHOOK_URL_FILE_VARIABLE}", context)


@click.command(epilog=f"Alerts are POSTed as Slack-compatible JSON to the URL in {WEBHOOK_URL_VARIABLE} (or the"
                      f" file {WEBHOOK_URL_FILE_VARIABLE} names); without either, printed to the console.")
@click.option("--webhook-url", hidden=True, expose_value=False, callback=_refuse_url_argument, is_eager=True)
@click.option("--on-temperature", multiple=True, help="Temperatures whose promotions alert (default: hot)")
@click.option("--on-stage", multiple=True, help="Stages whose promotions alert (default: sql)")
@click.option("--attempts", type=int, default=None, help="Webhook attempts before dead-lettering (default: 4)")
@click.option("--backoff-base", type=float, default=None, help="First retry delay in seconds, doubling (0.5)")
@click.option("--request-timeout", type=float, default=None, help="Seconds per webhook request (10)")
@click.option("--max-retry-after", type=float, default=None, help="Longest Retry-After honoured, seconds (60)")
@click.option("--store", default=None, help="Dedupe store file (default: $LEADSTREAM_DATA_DIR/alerts.sqlite3)")
@click.option("--dead-letters", default=None,
              help="Dead-letter file (default: $LEADSTREAM_DATA_DIR/alerts-dead-letters.jsonl)")
@click.option("--dlq-topic", is_flag=True, default=False, help="Also write dead letters to leads.alerts.dlq")
@click.option("--group-id", default=None, help="Consumer group (default: <LEADSTREAM_APP_ID>-alerts)")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Serve Prometheus /metrics on this port")
@click.option("--metrics-port", "old_port_option", type=click.IntRange(0, 65535), default=None, hidden=True)
@runs_async
async def alerts(
    on_temperature: tuple[str, ...], on_stage: tuple[str, ...],
    attempts: int | None, backoff_base: float | None, request_timeout: float | None,
    max_retry_after: float | None, store: str | None, dead_letters: str | None, dlq_topic: bool,
    group_id: str | None, port: int | None, old_port_option: int | None,
) -> None:
    """Alert sales when a lead turns hot or reaches SQL: console, or a webhook with retries."""
    options = alert_options_from(
        settings(), webhook_url=webhook_url_from(os.environ), on_temperatures=on_temperature, on_stages=on_stage,
        attempts=attempts, backoff_base_s=backoff_base, request_timeout_s=request_timeout,
        max_retry_after_s=max_retry_after, store_path=store, dead_letter_path=dead_letters,
        dlq_topic=dlq_topic or None, group_id=group_id,
    )
    metrics_port = port if port is not None else old_port_option  # --metrics-port: its name before 0.2.0
    if metrics_port is not None:
        check_port_free(settings().web_host, metrics_port, "--port")
    await check_kafka_answers(settings())
    if metrics_port is not None:
        start_http_server(metrics_port, addr=settings().web_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sink = f"webhook {options.webhook_url.split('/')[2]}" if options.webhook_url else "the console"
    print(f"alerts   {options.topic} → {sink}; group {options.group_id}; Ctrl-C stops", flush=True)
    stats = await run_alerts(options, stop)
    print(f"alerts   stopped: {stats}", flush=True)
