"""``leadstream worker``: the command line handed to Faust's own worker, once the worker is wired."""

from __future__ import annotations

import sys

import click

from streams.config.environment import scoring_model, settings
from streams.config.web_access import refuse_open_exposure


@click.command(add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a worker: score events, emit qualification changes, serve the API (Faust's worker options)."""
    scoring_model()  # a bad model file is named before Faust starts
    # A worker reachable from a network without a token would hand every lead to anyone: refused
    # (naming the setting) unless LEADSTREAM_ALLOW_OPEN=true, which is said out loud.
    bind = web_bind(ctx.args)
    host, named_by = (settings().web_host, "LEADSTREAM_WEB_HOST") if bind is None else (bind, "--web-bind")
    if (warning := refuse_open_exposure(settings().web, host, named_by)) is not None:
        print(f"leadstream: WARNING: {warning}", file=sys.stderr, flush=True)
    from streams.worker.bootstrap import app

    sys.argv = [sys.argv[0], "worker", *ctx.args]
    app.main()


def web_bind(args: list[str]) -> str | None:
    """The address Faust's ``--web-bind``/``-b`` option would bind, checked here so a refusal is one clear line."""
    for n, arg in enumerate(args):
        if arg in ("--web-bind", "-b") and n + 1 < len(args):
            return args[n + 1]
        if arg.startswith("--web-bind="):
            return arg.partition("=")[2]
        if arg.startswith("-b") and len(arg) > 2:
            return arg[2:]
    return None
