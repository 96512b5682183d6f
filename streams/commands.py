"""CLI commands beside Faust's own ``worker``: brokers, the demo, alerts, continuous improvement and the benchmark."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click import Choice, FloatRange
from click import Path as click_path
from faust.cli import argument, option

from streams.app import app


@app.command(option("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one)"))
async def broker(self, port: int | None) -> None:
    """Run the embedded Tansu broker (memory storage) in the foreground until Ctrl-C."""
    from streams.brokers.cli import run_embedded_broker

    raise SystemExit(run_embedded_broker(port))


@app.command(
    option("--port", type=int, default=None, help="Broker port on 127.0.0.1 (default: a free one)"),
    option("--data-dir", type=click_path(), default=None, help="Keep the log dir here across restarts"),
)
async def kafka(self, port: int | None, data_dir: str | None) -> None:
    """Run a single-node Apache Kafka 4.x (KRaft) in the foreground until Ctrl-C."""
    from streams.brokers.cli import run_kafka

    raise SystemExit(run_kafka(port, Path(data_dir) if data_dir else None))


@app.command(
    option("--port", type=int, default=None, help="Port (default: LEADSTREAM_COLLECTOR_PORT, else 8080)"),
    option("--host", default=None, help="Address to bind (default: LEADSTREAM_WEB_HOST)"),
)
async def collector(self, port: int | None, host: str | None) -> None:
    """Run the HTTP collector (pixel, Segment API, forms, JS snippet) producing to leads.events.raw."""
    from streams.collector import collector_settings, run_collector
    from streams.config import settings

    config = collector_settings()
    await run_collector(settings(), config, host or settings().web_host, config.port if port is None else port)


@app.command(
    option("--duration", type=float, default=None, help="Stop after this many seconds (default: Ctrl-C)"),
    option("--summary-json", type=click_path(), default=None, help="Write the run's summary here"),
    option("--no-simulate", is_flag=True, default=False, help="Start broker and worker only"),
    option("--broker-port", type=int, default=None, help="Embedded broker port (default: a free one)"),
    option("--leads", type=int, default=150, help="Leads per simulated wave"),
    option("--wave-seconds", type=float, default=45.0, help="How long one wave of journeys lasts"),
    option("--seed", type=int, default=1, help="Seed of the simulated journeys"),
    option("--open", "open_board", is_flag=True, default=False, help="Open the lead board in your web browser"),
    option("--collector-port", type=int, default=None, help="Collector port on 127.0.0.1 (default: a free one)"),
)
async def dev(
    self, duration: float | None, summary_json: str | None, no_simulate: bool, broker_port: int | None,
    leads: int, wave_seconds: float, seed: int, open_board: bool, collector_port: int | None,
) -> None:
    """Run broker, worker, collector and simulated lead journeys (through the collector); show leads move."""
    from streams.dev import DevOptions, run_dev

    summary = await run_dev(DevOptions(
        duration_s=duration, summary_json=Path(summary_json) if summary_json else None,
        simulate=not no_simulate, broker_port=broker_port, leads_per_wave=leads,
        wave_span_s=wave_seconds, seed=seed, open_board=open_board, collector_port=collector_port,
    ))
    if not summary["adds_up"]:
        raise SystemExit(1)


@app.command(
    option("--webhook-url", default=None, envvar="LEADSTREAM_ALERTS_WEBHOOK_URL",
           help="POST Slack-compatible JSON here (default: print to the console)"),
    option("--on-temperature", multiple=True, help="Temperatures whose promotions alert (default: hot)"),
    option("--on-stage", multiple=True, help="Stages whose promotions alert (default: sql)"),
    option("--attempts", type=int, default=None, help="Webhook attempts before dead-lettering (default: 4)"),
    option("--backoff-base", type=float, default=None, help="First retry delay in seconds, doubling (0.5)"),
    option("--request-timeout", type=float, default=None, help="Seconds per webhook request (10)"),
    option("--max-retry-after", type=float, default=None, help="Longest Retry-After honoured, seconds (60)"),
    option("--store", default=None, help="Dedupe store file (default: $LEADSTREAM_DATA_DIR/alerts.sqlite3)"),
    option("--dead-letters", default=None, help="Dead-letter file (default: $LEADSTREAM_DATA_DIR/alerts-dead-letters.jsonl)"),
    option("--dlq-topic", is_flag=True, default=False, help="Also write dead letters to leads.alerts.dlq"),
    option("--group-id", default=None, help="Consumer group (default: <LEADSTREAM_APP_ID>-alerts)"),
    option("--metrics-port", type=int, default=None, help="Serve Prometheus /metrics on this port"),
)
async def alerts(
    self, webhook_url: str | None, on_temperature: tuple[str, ...], on_stage: tuple[str, ...],
    attempts: int | None, backoff_base: float | None, request_timeout: float | None,
    max_retry_after: float | None, store: str | None, dead_letters: str | None, dlq_topic: bool,
    group_id: str | None, metrics_port: int | None,
) -> None:
    """Alert sales when a lead turns hot or reaches SQL: console, or a webhook with retries."""
    import asyncio
    import signal

    from prometheus_client import start_http_server

    from streams.alerting import alert_options_from, run_alerts
    from streams.config import settings

    options = alert_options_from(
        settings(), webhook_url=webhook_url, on_temperatures=on_temperature, on_stages=on_stage,
        attempts=attempts, backoff_base_s=backoff_base, request_timeout_s=request_timeout,
        max_retry_after_s=max_retry_after, store_path=store, dead_letter_path=dead_letters,
        dlq_topic=dlq_topic or None, group_id=group_id,
    )
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


# --- continuous improvement: outcomes, replay, calibration, the live model, history ----------


@contextmanager
def _said_plainly(command: str) -> Iterator[None]:
    """A refused or impossible request is one line on stderr and exit status 2, not a traceback."""
    from scoring import ScoringError
    from streams.errors import StreamsError

    try:
        yield
    except (StreamsError, ScoringError) as exc:
        print(f"leadstream {command}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


HISTORY_OPTION = option(
    "--history", "history_files", multiple=True, type=click_path(exists=True, dir_okay=False),
    help="Read this JSON-lines export (`leadstream export`) instead of the topics; repeatable",
)
CURRENT_OPTION = option(
    "--current", default=None, type=click_path(exists=True, dir_okay=False),
    help="Compare against this model file (default: the live one: applied, else LEADSTREAM_MODEL)",
)
UNTIL_OPTION = option("--until", default=None, help="Let leads decay up to this ISO time (default: now)")


@app.command(HISTORY_OPTION, CURRENT_OPTION, UNTIL_OPTION)
async def report(self, history_files: tuple[str, ...], current: str | None, until: str | None) -> None:
    """Conversion from CRM outcomes: win rate per stage held, hottest temperature and signal shown."""
    from streams.improvement import run_report

    with _said_plainly("report"):
        print(await run_report(history_files, current, until), flush=True)


@app.command(
    option("--model", "candidate", required=True, type=click_path(exists=True, dir_okay=False),
           help="The candidate model file to replay history under"),
    HISTORY_OPTION, CURRENT_OPTION, UNTIL_OPTION,
    option("--output-topic", default=None,
           help="Write the candidate's changes here (default: <prefix>leads.qualification.replay)"),
    option("--no-output", is_flag=True, default=False, help="Write no changes to any topic"),
)
async def replay(
    self, candidate: str, history_files: tuple[str, ...], current: str | None, until: str | None,
    output_topic: str | None, no_output: bool,
) -> None:
    """Re-score retained history under a candidate model, side by side with the live one."""
    from streams.improvement import default_output_topic, run_replay

    topic = None if no_output or (history_files and not output_topic) else output_topic or default_output_topic()
    with _said_plainly("replay"):
        print(await run_replay(candidate, history_files, current, until, topic), flush=True)


@app.command(
    option("--output", required=True, type=click_path(dir_okay=False), help="Write the candidate model here"),
    HISTORY_OPTION, CURRENT_OPTION,
    option("--holdout", type=float, default=0.3, help="Share of closed deals, the latest, kept out of the fit (0.3)"),
    option("--l2", type=float, default=1.0, help="Ridge penalty on the fitted log-odds (1.0)"),
    option("--keep-thresholds", is_flag=True, default=False, help="Refit points only, not the MQL/SQL thresholds"),
)
async def calibrate(
    self, output: str, history_files: tuple[str, ...], current: str | None, holdout: float, l2: float,
    keep_thresholds: bool,
) -> None:
    """Fit signal weights and thresholds to won and lost deals; write a candidate model and its lift."""
    from streams.errors import HistoryError
    from streams.improvement import run_calibrate

    with _said_plainly("calibrate"):
        if not 0.05 <= holdout <= 0.8 or l2 < 0:
            raise HistoryError("--holdout must be within 0.05..0.8 and --l2 at least 0")
        print(await run_calibrate(output, history_files, current, holdout, l2, not keep_thresholds), flush=True)


@app.command(option("--output", required=True, type=click_path(dir_okay=False), help="The JSON-lines file to write"))
async def export(self, output: str) -> None:
    """Write the retained history (events, sales feedback) to JSON lines, leaving erased leads out."""
    from streams.improvement import run_export

    with _said_plainly("export"):
        print(await run_export(output), flush=True)


@app.command(
    argument("action", type=Choice(["apply", "show"])),
    argument("path", required=False, type=click_path(exists=True, dir_okay=False)),
)
async def model(self, action: str, path: str | None) -> None:
    """`model apply FILE`: switch the running workers to FILE; `model show`: the live model."""
    from streams.config import file_model, settings
    from streams.errors import RolloutRefused
    from streams.rollout import apply_model, latest_applied

    if action == "show":
        applied, _ = await latest_applied(settings())
        live = applied.model if applied else file_model()
        source = f"applied on leads.control at {applied.applied_at}" if applied else "LEADSTREAM_MODEL (none applied)"
        print(f"live model {live.version} ({source})", flush=True)
        return
    with _said_plainly("model apply"):
        if path is None:
            raise RolloutRefused("name the model file to apply")
        was, now = await apply_model(path)
    if was.version == now.version:
        print(f"model {now.version} is already live; nothing to do", flush=True)
        return
    print(f"applied model {now.version} (was {was.version}): every running worker switches now and re-classifies"
          f" the leads it holds; each change that causes carries model_version {now.version}."
          f" Workers started later read it from leads.control too.", flush=True)


@app.command(
    option("--events", type=int, default=None, help="Events to preload per stage (default 200,000; --quick 4,000)"),
    option("--leads", type=int, default=None, help="Leads they belong to (default 20,000; --quick 400)"),
    option("--broker", type=Choice(["kafka", "embedded"]), default="kafka",
           help="Apache Kafka started here (default; KAFKA_BOOTSTRAP_SERVERS uses yours) or embedded Tansu"),
    option("--json", "json_path", type=click_path(), default=None, help="Write the figures here as JSON"),
    option("--quick", is_flag=True, default=False, help="A smoke-sized run: every figure, a few thousand events"),
    option("--latency-rate", type=FloatRange(min=1.0), default=None,
           help="Events/s of the latency stage (default 2,000, the targets' rate; lower shows a worker's latency"
                " below its limit)"),
)
async def bench(self, events: int | None, leads: int | None, broker: str, json_path: str | None, quick: bool,
                latency_rate: float | None) -> None:
    """Measure events/s (transport, framework, naive scorer, leadstream ×1 and ×2), latency and memory."""
    from bench.cli import BenchOptions, run_bench

    chosen = {"events": events, "leads": leads, "broker": broker, "json_path": Path(json_path) if json_path else None,
              "latency_rate": latency_rate}
    options = BenchOptions.quick(**chosen) if quick else BenchOptions(
        **{key: value for key, value in chosen.items() if value is not None})
    await run_bench(options)


@app.command(
    argument("action", type=Choice(["list", "redrive"])),
    option("--reason", default=None, help="redrive: the dead letters of this reason (see `dlq list`)"),
    option("--limit", type=int, default=None, help="redrive: at most this many, oldest first (default: all)"),
    option("--json", "as_json", is_flag=True, default=False, help="list: print JSON instead of a table"),
)
async def dlq(self, action: str, reason: str | None, limit: int | None, as_json: bool) -> None:
    """Dead letters: `list` groups them by reason with samples; `redrive --reason R` re-sends them to the raw topic."""
    import orjson

    from streams.config import settings
    from streams.dead_letters import by_reason, raw_topic, read_dead_letters, redrivable, redrive

    config = settings()
    letters = await read_dead_letters(config)
    if action == "list":
        summaries = by_reason(letters)
        if as_json:
            print(orjson.dumps([summary.as_dict() for summary in summaries]).decode(), flush=True)
            return
        print(f"{len(letters)} dead letters in {config.topic_prefix}leads.events.dlq", flush=True)
        for summary in summaries:
            print(f"{summary.count:>8}  {summary.reason}", flush=True)
            for sample in summary.as_dict()["samples"]:
                source = sample["source"]
                print(f"          {source.get('topic')}[{source.get('partition')}]@{source.get('offset')}:"
                      f" {sample['detail'][:100]} | {sample['preview']}", flush=True)
        return
    if not reason:
        raise SystemExit("leadstream: dlq redrive needs --reason (one of those `dlq list` shows)")
    if limit is not None and limit < 1:
        raise SystemExit("leadstream: --limit: expected a whole number ≥ 1")
    chosen = redrivable(letters, reason, raw_topic(config), limit)
    sent = await redrive(config, chosen)
    print(f"re-drove {sent} dead letters of reason {reason} to {raw_topic(config)}", flush=True)
