"""``leadstream crm``: the CRM write-back, run until Ctrl-C or SIGTERM; ``leadstream crm setup``: its fields."""

from __future__ import annotations

import asyncio
import os
import signal

import click
from prometheus_client import start_http_server

from streams.cli_support import runs_async
from streams.config.environment import settings
from streams.crm.consumer import client_for, run_crm
from streams.crm.options import TOKEN_FILE_VARIABLE, TOKEN_VARIABLE, crm_options_from
from streams.failures import EXIT_FAILED
from streams.preflight import check_kafka_answers, check_port_free


def _refuse_token_argument(context: click.Context, parameter: click.Parameter, value: str | None) -> None:
    """A token on the command line shows in `ps` to every user of the machine."""
    if value is not None:
        raise click.UsageError(f"--token is not taken: a token on the command line shows in `ps` to every user."
                               f" Put it in {TOKEN_VARIABLE}, or in a file named by {TOKEN_FILE_VARIABLE}", context)


@click.group(invoke_without_command=True,
             epilog="The CRM, its URL and the token come from the environment (docs/crm.md lists every setting).")
@click.option("--token", hidden=True, expose_value=False, callback=_refuse_token_argument, is_eager=True)
@click.option("--window", type=float, default=None,
              help="Coalescing window in seconds: a lead is written at most once per window (default 5)")
@click.option("--batch-size", type=int, default=None,
              help="Records per request, up to the API's limit (HubSpot 100, Salesforce 200; the default)")
@click.option("--dead-letters", default=None,
              help="Dead-letter file (default: $LEADSTREAM_DATA_DIR/crm-dead-letters.jsonl)")
@click.option("--group-id", default=None, help="Consumer group (default: <LEADSTREAM_APP_ID>-crm)")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Serve Prometheus /metrics on this port")
@click.pass_context
@runs_async
async def crm(context: click.Context, window: float | None, batch_size: int | None, dead_letters: str | None,
              group_id: str | None, port: int | None) -> None:
    """Keep each lead's score fields in HubSpot or Salesforce up to date."""
    if context.invoked_subcommand is not None:
        return
    options = crm_options_from(settings(), os.environ, group_id=group_id, window_s=window, batch_size=batch_size,
                               dead_letter_path=dead_letters)
    if port is not None:
        check_port_free(settings().web_host, port, "--port")
    await check_kafka_answers(settings())
    if port is not None:
        start_http_server(port, addr=settings().web_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"crm      {options.topic} → {options.crm} {options.base_url}; group {options.group_id};"
          f" window {options.window_s:g} s, {options.batch_size} a request; Ctrl-C stops", flush=True)
    stats = await run_crm(options, stop)
    print(f"crm      stopped: {stats}", flush=True)


@crm.command()
@runs_async
async def setup() -> None:
    """Create leadstream's contact properties in HubSpot (or list the Salesforce fields to create)."""
    options = crm_options_from(settings(), os.environ)
    client = client_for(options, asyncio.Event())
    await client.start()
    try:
        lines = await client.setup()
    finally:
        await client.close()
    for line in lines:
        print(f"crm setup  {line}", flush=True)
    if any(line.startswith("missing:") for line in lines):
        print("crm setup  create the missing fields in Salesforce Setup (Object Manager), then run this again",
              flush=True)
        raise SystemExit(EXIT_FAILED)
