"""Install one Faust or aiokafka override at a time, so a test can show what that override alone changes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from streams import faust_ext
from streams.faust_ext import bulk_fetch, fixes, guard

EVERY_OVERRIDE = {override.replaces.name: override for override in (*fixes.OVERRIDES, bulk_fetch.OVERRIDE)}


@contextmanager
def only_override(name: str | None) -> Iterator[None]:
    """The override of the function called ``name`` installed (digest-checked, as at start), or none for None; originals back after."""
    faust_ext.uninstall()  # whatever an earlier test installed
    if name is not None:
        guard.install_overrides([EVERY_OVERRIDE[name]], allow_untested=False)
    try:
        yield
    finally:
        faust_ext.uninstall()
