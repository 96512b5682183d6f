"""Headless Chromium for the browser tests: Debian's package, driven by Playwright, never downloaded.

Without a chromium executable (or without Playwright) the browser tests skip with the reason,
except under CI (any truthy `CI`, tests/ci.py), where they fail: CI installs both (.ci/run), so a skip there would hide
a broken board.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


from tests.ci import skip_or_fail_under_ci

# Quiet, offline, and nothing from any earlier run: a fresh profile every time.
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
)
REPO = Path(__file__).resolve().parents[2]


def _unavailable(reason: str) -> None:
    skip_or_fail_under_ci(reason, "the browser tests")


def chromium_executable() -> str:
    """The system Chromium (LEADSTREAM_CHROMIUM, else `chromium` on PATH); skips or fails without one."""
    candidate = os.environ.get("LEADSTREAM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not candidate or not os.access(candidate, os.X_OK):
        _unavailable("no Chromium here: install Debian's `chromium` package (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed: install the test extras (pip install -e '.[test]')")
    return candidate


def output_dir(*parts: str) -> Path:
    """Where the browser tests write screenshots: test-output/ in the repository (gitignored)."""
    base = Path(os.environ.get("LEADSTREAM_TEST_OUTPUT") or REPO / "test-output")
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Browser:
    """Opens browser contexts, each a separate Chromium with a fresh --user-data-dir."""

    def __init__(self, playwright: Any, executable: str) -> None:
        self.playwright = playwright
        self.executable = executable

    @asynccontextmanager
    async def context(self, *extra_args: str, **options: Any) -> AsyncIterator[Any]:
        """``extra_args``: more Chromium flags; ``options``: more of Playwright's (a visitor's ``user_agent``, say)."""
        profile = tempfile.mkdtemp(prefix="leadstream-chromium-")
        context = await self.playwright.chromium.launch_persistent_context(
            profile, executable_path=self.executable, headless=True, args=[*CHROMIUM_ARGS, *extra_args],
            viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC", **options,
        )
        try:
            yield context
        finally:
            await context.close()
            shutil.rmtree(profile, ignore_errors=True)
