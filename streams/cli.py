"""The ``leadstream`` console entry: parses the command, then imports only the module that runs it.

A command that needs no worker (the collector, the alerts and CRM consumers, the ops tools) never
imports Faust's app, so it starts fast and cannot be broken by the worker's wiring. Every
failure ends in streams/failures.py: a line or two naming the fix, and a status per cause.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys

import click

from streams import __version__
from streams.cli_help import document
from streams.cli_support import LOG_LEVEL_VARIABLE, configure_logging, end_with
from streams.config.environment import settings
from streams.failures import EXIT_STATUSES
from streams.log_redaction import install as redact_logs

# Each command, by section: the module that defines it (a click command of the same name) and its one-line summary.
SECTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "Run": {
        "worker": ("streams.worker.command", "Score events, emit qualification changes, serve the lead API and board."),
        "collector": ("streams.collector.command", "The HTTP collector: pixel, Segment-style API, forms, JS snippet."),
        "alerts": ("streams.alerting.command", "Alert sales (console or webhook) when a lead turns hot or SQL."),
        "crm": ("streams.crm.command", "Write each lead's score, stage and grade to HubSpot or Salesforce."),
    },
    "Operate": {
        "dlq": ("streams.ops.commands", "Dead letters: list them by reason, re-drive one reason."),
        "model": ("streams.ops.model_files", "Scoring models: validate, diff, apply to the workers, show."),
        "export": ("streams.ops.commands", "Write the retained history to JSON lines."),
        "replay": ("streams.ops.commands", "Re-score retained history under a candidate model."),
        "calibrate": ("streams.ops.commands", "Fit weights and thresholds to won and lost deals."),
        "report": ("streams.ops.commands", "Conversion from CRM outcomes per stage, temperature and signal."),
    },
    "Try": {
        "dev": ("streams.devtools.commands", "The whole product on an embedded broker, with simulated traffic."),
        "kafka": ("streams.devtools.commands", "A single-node Apache Kafka 4.x in the foreground."),
        "broker": ("streams.devtools.commands", "The embedded Tansu broker in the foreground."),
        "bench": ("streams.devtools.commands", "Measure events/s, latency and memory side by side; --shadow: a shadow's cost."),
    },
}
COMMANDS: dict[str, tuple[str, str]] = {name: entry for section in SECTIONS.values() for name, entry in section.items()}


class LazyGroup(click.Group):
    """Lists leadstream's commands by section; imports a command's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        command = getattr(importlib.import_module(COMMANDS[name][0]), name)
        assert isinstance(command, click.Command)
        return document(command, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for section, commands in SECTIONS.items():
            with formatter.section(f"{section} commands"):
                formatter.write_dl([(name, summary) for name, (_, summary) in commands.items()])

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Exit statuses"):
            formatter.write_dl([(str(status), meaning) for status, meaning in EXIT_STATUSES.items()])
        formatter.write_paragraph()
        formatter.write_text("`leadstream COMMAND --help` lists the command's options, environment variables and an"
                             " example. Settings come from environment variables: docs/cli.md and"
                             " docs/operations.md list them all.")


def version_text() -> str:
    def installed(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return (f"leadstream {__version__}\n"
            f"  faust-streaming {installed('faust-streaming')}, aiokafka {installed('aiokafka')},"
            f" Python {platform.python_version()}")


def _print_version(ctx: click.Context, parameter: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print leadstream's version (and Faust's, aiokafka's) and exit.")
@click.option("--debug", is_flag=True, default=False,
              help=f"Show the traceback of a failure and log at debug level ({LOG_LEVEL_VARIABLE}=debug).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """leadstream: real-time, explainable lead qualification on Kafka."""
    if debug:
        os.environ[LOG_LEVEL_VARIABLE] = "debug"  # the worker's Faust and `dev`'s children read it too
    configure_logging(own_handler=ctx.invoked_subcommand != "worker")  # Faust sets up the worker's own
    settings()  # every command reads them: a bad variable is named before anything starts
    redact_logs(settings().log_lead_ids)  # before any command logs a line that could name a lead
    _Invocation.command = _command_path(ctx)  # from here on a failure is the command's


def _command_path(ctx: click.Context) -> str | None:
    """"model validate" for `leadstream model validate x.toml`: the command and, of a group, its subcommand."""
    name = ctx.invoked_subcommand
    if name is None:
        return None
    command = ctx.command.get_command(ctx, name) if isinstance(ctx.command, click.Group) else None
    if isinstance(command, click.Group):
        words = sys.argv[sys.argv.index(name) + 1:] if name in sys.argv else []
        sub = next((word for word in words if word in command.commands), None)
        return f"{name} {sub}" if sub else name
    return name


class _Invocation:
    command: str | None = None  # named in a failure's message: "leadstream dlq: ..."


def main() -> None:
    try:
        cli(prog_name="leadstream")
    except Exception as exc:  # noqa: BLE001 - every failure ends as its line and status (streams/failures.py)
        end_with(exc, _Invocation.command)
