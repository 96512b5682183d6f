"""`leadstream bench`, with `--shadow`: the measuring command of streams/devtools/commands.py, plus a shadow's cost.

`--shadow` measures one worker without and then with a shadow model (bench/shadow.py) instead of
the full run; every other option is the full run's and means the same.
"""

from __future__ import annotations

import os
from typing import Any

import click

from streams.devtools import commands as measuring

SHADOW_VARIABLE = "LEADSTREAM_BENCH_SHADOW"  # bench/shadow.py's: bench is not installed, so not imported from there


@click.command(params=[*measuring.bench.params, click.Option(
    ["--shadow"], is_flag=True, default=False,
    help="Measure a shadow model's cost: events/s of one worker without and with one (target: at most 30% slower)")])
@click.pass_context
def bench(ctx: click.Context, shadow: bool, **options: Any) -> None:
    """Measure events/s (transport, framework, naive scorer, leadstream ×1 and ×2), latency and memory;
    with --shadow, events/s with and without a shadow model."""
    if shadow:
        os.environ[SHADOW_VARIABLE] = "1"
    ctx.invoke(measuring.bench, **options)
