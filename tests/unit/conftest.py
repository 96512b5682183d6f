"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams import faust_ext


@pytest.fixture
def faust_overrides() -> Iterator[None]:
    """Every Faust and aiokafka override installed, as a worker has them, and the originals back afterwards."""
    faust_ext.install(allow_untested=False)
    yield
    faust_ext.uninstall()
