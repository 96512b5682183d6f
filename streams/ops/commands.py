"""Operator commands: dead letters, history export, replay, calibration, reports, and the live model."""

from __future__ import annotations

import sys
import time

import click
import orjson

from streams.cli_support import runs_async, said_plainly
from streams.config.environment import model_digest, settings
from streams.contracts.control_records import read_control
from streams.errors import HistoryError, RolloutRefused, RolloutUnconfirmed
from streams.failures import EXIT_UNCONFIRMED
from streams.ops.dead_letters import by_reason, raw_topic, read_dead_letters, redrivable
from streams.ops.dead_letters import redrive as redrive_letters
from streams.ops.improvement import default_output_topic, run_calibrate, run_export, run_replay, run_report
from streams.ops.model_comparison import run_model_report
from streams.ops.model_apply import Applied, apply_model, describe_workers, short

HISTORY_OPTION = click.option(
    "--history", "history_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
    help="Read this JSON-lines export (`leadstream export`) instead of the topics; repeatable",
)
CURRENT_OPTION = click.option(
    "--current", default=None, type=click.Path(exists=True, dir_okay=False),
    help="Compare against this model file (default: the live one: applied, else LEADSTREAM_MODEL)",
)
UNTIL_OPTION = click.option("--until", default=None, help="Let leads decay up to this ISO time (default: now)")


@click.command()
@HISTORY_OPTION
@CURRENT_OPTION
@UNTIL_OPTION
@click.option("--models", "side_by_side", is_flag=True, default=False,
              help="The live and the shadow model side by side (`leadstream model shadow`)")
@click.option("--since", default=None, help="--models: from this ISO time (default: when the shadow started)")
@runs_async
async def report(history_files: tuple[str, ...], current: str | None, until: str | None, side_by_side: bool,
                 since: str | None) -> None:
    """Conversion from CRM outcomes: win rate per stage held, hottest temperature and signal shown.

    With --models: the live and the shadow model over a window, each one's leads per stage, changes,
    alerts it would have sent, and MQL/SQL/hot precision and recall against the deals that closed.
    """
    with said_plainly("report"):
        if side_by_side:
            print(await run_model_report(history_files, current, since, until), flush=True)
        else:
            print(await run_report(history_files, current, until), flush=True)


@click.command()
@click.option("--model", "candidate", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The candidate model file to replay history under")
@HISTORY_OPTION
@CURRENT_OPTION
@UNTIL_OPTION
@click.option("--output-topic", default=None,
              help="Write the candidate's changes here (default: <prefix>leads.qualification.replay)")
@click.option("--no-output", is_flag=True, default=False, help="Write no changes to any topic")
@runs_async
async def replay(
    candidate: str, history_files: tuple[str, ...], current: str | None, until: str | None,
    output_topic: str | None, no_output: bool,
) -> None:
    """Re-score retained history under a candidate model, side by side with the live one."""
    topic = None if no_output or (history_files and not output_topic) else output_topic or default_output_topic()
    with said_plainly("replay"):
        print(await run_replay(candidate, history_files, current, until, topic), flush=True)


@click.command()
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Write the candidate model here")
@HISTORY_OPTION
@CURRENT_OPTION
@click.option("--holdout", type=float, default=0.3, help="Share of closed deals, the latest, kept out of the fit (0.3)")
@click.option("--l2", type=float, default=1.0, help="Ridge penalty on the fitted log-odds (1.0)")
@click.option("--keep-thresholds", is_flag=True, default=False, help="Refit points only, not the MQL/SQL thresholds")
@runs_async
async def calibrate(
    output: str, history_files: tuple[str, ...], current: str | None, holdout: float, l2: float,
    keep_thresholds: bool,
) -> None:
    """Fit signal weights and thresholds to won and lost deals; write a candidate model and its lift."""
    with said_plainly("calibrate"):
        if not 0.05 <= holdout <= 0.8 or l2 < 0:
            raise HistoryError("--holdout must be within 0.05..0.8 and --l2 at least 0")
        print(await run_calibrate(output, history_files, current, holdout, l2, not keep_thresholds), flush=True)


@click.command()
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="The JSON-lines file to write")
@runs_async
async def export(output: str) -> None:
    """Write the retained history (events, sales feedback) to JSON lines, leaving erased leads out."""
    with said_plainly("export"):
        print(await run_export(output), flush=True)


@click.command()
@click.argument("action", type=click.Choice(["apply", "show"]))
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
              help="apply: seconds to wait for every running worker to report the new model")
@runs_async
async def model(action: str, path: str | None, timeout_s: float) -> None:
    """`model apply FILE`: switch the running workers to FILE and wait until each says so; `model show`: what each runs.

    Workers report their model (version, content digest, source) on leads.control; both read it there.
    """
    if action == "show":
        with said_plainly("model show"):
            print(await show_models(), flush=True)
        return
    with said_plainly("model apply"):
        if path is None:
            raise RolloutRefused("name the model file to apply")
        try:
            applied = await apply_model(path, timeout_s)
        except RolloutUnconfirmed as exc:
            print(f"leadstream model apply: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_UNCONFIRMED) from None
    print(applied_message(applied), flush=True)


async def show_models() -> str:
    state = await read_control(settings())
    lines = describe_workers(state, time.time())
    applied = state.applied
    lines.append(f"applied on leads.control: {applied.model.version} [{short(model_digest(applied.text))}] at"
                 f" {applied.applied_at}" if applied else "applied on leads.control: none (each worker runs its"
                 " LEADSTREAM_MODEL, else the shipped default)")
    shadow = state.shadow
    if shadow is not None and shadow.model is not None and shadow.text is not None:
        lines.append(f"shadow on leads.control: {shadow.model.version} [{short(model_digest(shadow.text))}] at"
                     f" {shadow.applied_at} (its changes: leads.qualification.shadow)")
    if not state.workers:
        lines.insert(0, "no running worker has reported its model on leads.control")
    return "\n".join(lines)


def applied_message(applied: Applied) -> str:
    version, count = applied.model.version, len(applied.confirmed)
    if not applied.published:
        return f"model {version} is already live on every running worker ({count}); nothing to do"
    if not count:
        return (f"applied model {version}: no worker is running; workers that start read it from leads.control"
                " and score with it over their LEADSTREAM_MODEL")
    workers = ", ".join(report.worker for report in applied.confirmed)
    return (f"applied model {version} (was {', '.join(applied.was) or 'none'}): all {count} running workers"
            f" confirmed ({workers}) and re-classify the leads they hold; each change that causes carries"
            f" model_version {version}. Workers started later read it from leads.control too.")


@click.group()
def dlq() -> None:
    """Dead letters: `list` groups them by reason with samples; `redrive` re-sends one reason to the raw topic."""


@dlq.command(name="list", short_help="The dead letters by reason, with samples.")
@click.option("--json", "as_json", is_flag=True, default=False, help="Print JSON instead of a table")
@runs_async
async def list_dead_letters(as_json: bool) -> None:
    """The dead letters by reason, each with its count and samples (topic, partition, offset, detail)."""
    config = settings()
    letters = await read_dead_letters(config)
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


@dlq.command(short_help="Re-send one reason's dead letters to the raw topic.")
@click.option("--reason", required=True, help="The dead letters of this reason (one `dlq list` shows)")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many, oldest first (default: all)")
@runs_async
async def redrive(reason: str, limit: int | None) -> None:
    """Re-send the dead letters of one reason to the raw topic, once the cause is fixed."""
    config = settings()
    chosen = redrivable(await read_dead_letters(config), reason, raw_topic(config), limit)
    sent = await redrive_letters(config, chosen)
    print(f"re-drove {sent} dead letters of reason {reason} to {raw_topic(config)}", flush=True)
