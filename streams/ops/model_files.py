"""`leadstream model`: checking a model file and comparing two, beside applying one to the workers and showing it.

``validate`` runs exactly the checks a worker runs at start (scoring.load_model); ``diff`` compares
two valid files setting by setting, so a reviewer sees which weights, thresholds and mappings a
change moves. ``apply`` and ``show`` talk to the running workers (streams/ops/commands.py).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import orjson

from scoring import ScoringModel, load_model
from streams.ops import commands as rollout
from streams.ops import shadow_commands

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
ABSENT = object()


@click.group()
def model() -> None:
    """Scoring models: validate and diff files, apply one to the running workers, run one as a shadow, show them."""


@model.command(short_help="Check model files as a worker does at start.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check model FILES with the checks a worker runs at start; exit 2 naming the first bad field."""
    for path in files:
        checked = load_model(path)  # a ModelError names the file and the field: exit 2 (streams/failures.py)
        print(f"{path}: valid model {checked.version} ({_summary(checked)})", flush=True)


@model.command(short_help="What changed between two model files.")
@click.argument("before", type=click.Path(dir_okay=False))
@click.argument("after", type=click.Path(dir_okay=False))
def diff(before: str, after: str) -> None:
    """What changed from model BEFORE to model AFTER: each setting and weight added, removed or changed."""
    old, new = load_model(before), load_model(after)  # both valid first: a diff of a broken file misleads
    changes = list(setting_changes(_document(before), _document(after)))
    print(f"{before} ({old.version}) → {after} ({new.version}): "
          + (f"{len(changes)} setting{'s' if len(changes) != 1 else ''} differ" if changes else "no differences"),
          flush=True)
    for line in changes:
        print(f"  {line}", flush=True)


@model.command(short_help="Switch the running workers to a model file.")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
              help="Seconds to wait for every running worker to report the new model")
@click.pass_context
def apply(ctx: click.Context, path: str, timeout_s: float) -> None:
    """Publish FILE on leads.control and wait until every running worker reports it (exit 8 if one does not).

    A file whose version is live with other contents is refused (exit 2): give it a new version.
    """
    ctx.invoke(rollout.model, action="apply", path=path, timeout_s=timeout_s)


@model.command(short_help="The model the workers run, and where it came from.")
@click.pass_context
def show(ctx: click.Context) -> None:
    """The model the workers run: its version and where it came from."""
    ctx.invoke(rollout.model, action="show", path=None)


model.add_command(shadow_commands.shadow)
model.add_command(shadow_commands.promote)


def _summary(checked: ScoringModel) -> str:
    return (f"{len(checked.signals)} signals, {len(checked.track_events)} track events,"
            f" {len(checked.page_rules)} page rules")


def _document(path: str) -> Mapping[str, Any]:
    return tomllib.loads(Path(path).read_text("utf-8"))  # load_model has read and parsed it already


def setting_changes(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """One line per setting that differs: ``~ path: old → new``, ``+ path: new``, ``- path: old``, in file order."""
    for key in [*before, *(key for key in after if key not in before)]:
        path = f"{prefix}{_key(key)}"
        old, new = before.get(key, ABSENT), after.get(key, ABSENT)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            yield from setting_changes(old, new, f"{path}.")
        elif old is ABSENT:
            yield f"+ {path}: {_value(new)}"
        elif new is ABSENT:
            yield f"- {path}: {_value(old)}"
        elif old != new:
            yield f"~ {path}: {_value(old)} → {_value(new)}"


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else orjson.dumps(key).decode()


def _value(value: Any) -> str:
    """As the model file writes it: strings quoted, tables inline."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    return str(value)
