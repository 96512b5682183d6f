"""Every change this project makes to Faust's and aiokafka's own code, installed at start by ``install()``."""

from __future__ import annotations


def install() -> None:
    """Install every override before any Faust service starts."""
    from streams.faust_ext import fixes  # noqa: F401 — the overrides are installed as it loads
