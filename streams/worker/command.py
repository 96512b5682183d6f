"""``leadstream worker``: checks what a user can fix, then hands the worker's command line to Faust's."""

from __future__ import annotations

import os
import sys

import click

from streams.cli_support import LOG_LEVEL_VARIABLE, LOG_LEVELS, log_level_name
from streams.config.environment import scoring_model, settings
from streams.config.web_access import refuse_open_exposure
from streams.preflight import check_kafka, check_port_free


def _into_environment(variable: str):
    """An option that sets ``variable`` for this process, so settings() and Faust's own read agree."""

    def store(ctx: click.Context, parameter: click.Parameter, value: object) -> object:
        if value is not None:
            os.environ[variable] = str(value)
            settings.cache_clear()
        return value

    return store


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               epilog="Faust's own worker options (`--blocking-timeout`, ...) pass through after `--`;"
                      " web host and port are leadstream's (--host, --port) so the lead API advertises them.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              callback=_into_environment("LEADSTREAM_WEB_PORT"), expose_value=False,
              help="The lead API's port (default: LEADSTREAM_WEB_PORT, else 6066)")
@click.option("--web-port", "-p", "old_port", type=click.IntRange(0, 65535), default=None, hidden=True,
              callback=_into_environment("LEADSTREAM_WEB_PORT"), expose_value=False)  # Faust's name for it
@click.option("--host", type=str, default=None, callback=_into_environment("LEADSTREAM_WEB_HOST"),
              expose_value=False, help="Address the lead API binds (default: LEADSTREAM_WEB_HOST, else 127.0.0.1)")
@click.option("--log-level", type=click.Choice(list(LOG_LEVELS)), default=None,
              callback=_into_environment(LOG_LEVEL_VARIABLE), expose_value=False,
              help=f"How much to log (default: {LOG_LEVEL_VARIABLE}, else warn)")
@click.option("--loglevel", "-l", "old_log_level", type=click.Choice(list(LOG_LEVELS)), default=None, hidden=True,
              callback=_into_environment(LOG_LEVEL_VARIABLE), expose_value=False)  # Faust's name, in older docs
@click.option("--skip-checks", is_flag=True, default=False,
              help="Start without first checking that Kafka answers and the port is free")
@click.pass_context
def worker(ctx: click.Context, skip_checks: bool) -> None:
    """Score events, emit qualification changes, serve the lead API and board (until Ctrl-C or SIGTERM)."""
    config = settings()
    scoring_model()  # a bad model file is named before Faust starts
    # A worker reachable from a network without a token would hand every lead to anyone: refused
    # (naming the setting) unless LEADSTREAM_ALLOW_OPEN=true, which is said out loud.
    bind = web_bind(ctx.args)  # Faust's own option, passed through
    host, named_by = (config.web_host, "LEADSTREAM_WEB_HOST") if bind is None else (bind, "--web-bind")
    if (warning := refuse_open_exposure(config.web, host, named_by)) is not None:
        print(f"leadstream: WARNING: {warning}", file=sys.stderr, flush=True)
    if not skip_checks:
        check_port_free(config.web_host, config.web_port, "--port (LEADSTREAM_WEB_PORT)")
        check_kafka(config)
    from streams.worker.bootstrap import app

    passed = [arg for arg in ctx.args if arg != "--"]
    sys.argv = [sys.argv[0], "worker", "--loglevel", log_level_name(), *passed]
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
