"""`leadstream model shadow FILE`, `model shadow --off` and `model promote`: the commands (streams/ops/model_shadow.py)."""

from __future__ import annotations

import sys

import click

from streams.cli_support import runs_async, said_plainly
from streams.errors import RolloutRefused, RolloutUnconfirmed
from streams.failures import EXIT_UNCONFIRMED
from streams.ops.commands import applied_message
from streams.ops.model_shadow import Shadowed, promote as promote_shadow, put_shadow, shadow_off, shadow_topic

TIMEOUT_OPTION = click.option("--timeout", "timeout_s", type=click.FloatRange(min=1.0), default=60.0,
                              show_default=True, help="Seconds to wait for every running worker to confirm")


@click.command(short_help="Run a candidate model beside the live one, deciding nothing.")
@click.argument("path", metavar="FILE", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--off", is_flag=True, default=False, help="Switch the shadow off")
@TIMEOUT_OPTION
@runs_async
async def shadow(path: str | None, off: bool, timeout_s: float) -> None:
    """Every running worker classifies each lead it scores under FILE too, writing what it would change to
    leads.qualification.shadow (never to alerts or the CRM); `--off` stops it. Compare with
    `leadstream report --models`; make it live with `leadstream model promote`.

    A FILE with the live version, or other half-lives (held scores were decayed with the live ones), is refused (exit 2).
    """
    with said_plainly("model shadow"):
        if off == (path is not None):
            raise RolloutRefused("name the model file to run as the shadow, or pass --off (not both)")
        try:
            done = await shadow_off(timeout_s) if off else await put_shadow(str(path), timeout_s)
        except RolloutUnconfirmed as exc:
            print(f"leadstream model shadow: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_UNCONFIRMED) from None
    print(shadowed_message(done), flush=True)


@click.command(short_help="Make the shadow model the live one.")
@TIMEOUT_OPTION
@runs_async
async def promote(timeout_s: float) -> None:
    """Apply the shadow model to the running workers (what `model apply` does with its file), then clear the shadow."""
    with said_plainly("model promote"):
        try:
            applied = await promote_shadow(timeout_s)
        except RolloutUnconfirmed as exc:
            print(f"leadstream model promote: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(EXIT_UNCONFIRMED) from None
    print(applied_message(applied) + " The shadow is off.", flush=True)


def shadowed_message(done: Shadowed) -> str:
    count = len(done.confirmed)
    if done.model is None:
        return f"shadow switched off: {count} running workers confirmed; nothing more goes to {shadow_topic()}"
    if not count:
        return (f"shadow model {done.model.version} published: no worker is running; workers that start read it"
                f" from leads.control and run it beside the live model, writing to {shadow_topic()}")
    return (f"shadow model {done.model.version} runs beside {', '.join(done.live) or 'the live model'} on all {count}"
            f" running workers; its changes go to {shadow_topic()} with model_version {done.model.version}."
            " Compare: leadstream report --models; make it live: leadstream model promote")
