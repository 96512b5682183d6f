"""The suite's one CI switch, and the few skips CI lets through.

Any truthy ``CI`` means CI (runners set ``true``, ``1``, ``yes`` or their own name): there a test
that cannot run fails instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NoReturn

import pytest

FALSE_VALUES = frozenset({"", "0", "false", "no"})

DOCKER_COMPOSE_MISSING = "the docker compose plugin is not installed; the YAML-level tests below still run"


def running_under_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CI`` is set to anything but empty, 0, false or no (any case)."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in FALSE_VALUES


def skip_or_fail_under_ci(reason: str, needed_for: str) -> NoReturn:
    """Skip locally; under CI fail, since a skip there would hide what the test guards."""
    if running_under_ci():
        pytest.fail(f"CI must run {needed_for}, but: {reason}", pytrace=False)
    pytest.skip(reason)

