"""The ``leadstream`` console entry: parses the command, then imports only the module that runs it.

A command that needs no worker (the collector, the alerts consumer, the ops tools) never
imports Faust's app, so it starts fast and cannot be broken by the worker's wiring.
"""

from __future__ import annotations

import importlib
import sys

import click

from scoring import ScoringError
from streams.cli_support import EXIT_REFUSED
from streams.config.environment import settings
from streams.errors import StreamsError
from streams.log_redaction import install as redact_logs

# Each command: the module that defines it (a click command of the same name) and its one-line summary.
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("streams.worker.command", "Run a worker: score events, emit qualification changes, serve the API."),
    "collector": ("streams.collector.command", "Run the HTTP collector (pixel, Segment API, forms, snippet)."),
    "alerts": ("streams.alerting.command", "Alert sales when a lead turns hot or reaches SQL."),
    "dlq": ("streams.ops.commands", "Dead letters: list them by reason, or re-drive one reason."),
    "export": ("streams.ops.commands", "Write the retained history to JSON lines."),
    "replay": ("streams.ops.commands", "Re-score retained history under a candidate model."),
    "calibrate": ("streams.ops.commands", "Fit weights and thresholds to won and lost deals."),
    "report": ("streams.ops.commands", "Conversion from CRM outcomes per stage, temperature and signal."),
    "model": ("streams.ops.commands", "Apply a model to the running workers, or show the live one."),
    "dev": ("streams.devtools.commands", "The whole product on the embedded broker, with simulated traffic."),
    "broker": ("streams.devtools.commands", "Run the embedded Tansu broker in the foreground."),
    "kafka": ("streams.devtools.commands", "Run a single-node Apache Kafka 4.x in the foreground."),
    "bench": ("streams.devtools.commands", "Measure events/s, latency and memory side by side."),
}


class LazyGroup(click.Group):
    """Lists every command from the table above; imports a command's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        command = getattr(importlib.import_module(COMMANDS[name][0]), name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


@click.group(cls=LazyGroup)
def cli() -> None:
    """leadstream: real-time, explainable lead qualification on Kafka."""


def main() -> None:
    try:
        settings()  # every command reads them: a bad variable is named before anything starts
        redact_logs(settings().log_lead_ids)  # before any command logs a line that could name a lead
        cli(prog_name="leadstream")
    except (StreamsError, ScoringError) as exc:
        print(f"leadstream: {exc}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
