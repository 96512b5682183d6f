"""Every change this project makes to Faust's and aiokafka's own code, installed at start by ``install()``.

- ``fixes``: five methods replaced to work around faust-streaming bugs the fault suite found;
- ``bulk_fetch``: ``Consumer._drain_messages`` replaced so the bulk intake gets whole fetches
  (``hand_over_bulk_intake`` gives it the intake);
- ``consumer_internals``: named functions for the bulk intake's writes to the consumer's
  private bookkeeping; ``dropped_fetch``: the check that re-reads a partition Faust stalled;
- ``guard``: the digest check every override passes before it replaces anything.

Importing any of them replaces nothing.
"""

from __future__ import annotations

from streams.config.environment import settings
from streams.faust_ext import bulk_fetch, fixes, guard
from streams.faust_ext.bulk_fetch import BulkReader

_installed = False


def install(allow_untested: bool | None = None) -> None:
    """Install every override, once, before any Faust service starts; a second call does nothing.

    Each original is first checked against the digest its override was written against: when
    one differs, ``guard.FaustInternalsChanged`` (a StreamsError) names it and the installed
    versions, and nothing is replaced, unless untested versions are allowed
    (``LEADSTREAM_FAUST_UNTESTED=true``, the default for ``allow_untested``), which installs
    every override with a warning per mismatched function.
    """
    global _installed
    if _installed:
        return
    if allow_untested is None:
        allow_untested = settings().faust_untested
    guard.install_overrides((*fixes.OVERRIDES, bulk_fetch.OVERRIDE), allow_untested)
    _installed = True


def uninstall() -> None:
    """Put every original back (tests only), so that ``install()`` runs again on the next call."""
    global _installed
    guard.uninstall_overrides()
    _installed = False


def hand_over_bulk_intake(intake: BulkReader | None) -> None:
    """Give the fetch loop (streams/faust_ext/bulk_fetch.py) the intake whose topics it queues in bulk."""
    bulk_fetch.hand_over(intake)
