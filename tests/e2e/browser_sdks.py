"""Segment's and RudderStack's browser SDKs, from npm, served on a local page for headless Chromium.

The packages are installed once, pinned, by npm (the one registry the suite needs for them) into
``.cache/browser-sdks/`` in the repository (gitignored), and reused while their versions match.
Without npm the tests skip with the reason, except under CI, where they fail (.ci/run installs it).
Each SDK's own prebuilt browser bundle is served as it ships (Segment's UMD build, RudderStack's
bundled UMD build, which carries its plugins so nothing is fetched from a CDN): no bundler.

The page server stands in for the website a visitor browses; the settings Segment's CDN and
RudderStack's control plane would answer are given to the SDKs on the page itself (stand-ins, so
the browser reaches nothing but this machine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from aiohttp import web

from tests.ci import skip_or_fail_under_ci
from tests.e2e.browser import REPO

SDK_VERSIONS = {"@segment/analytics-next": "1.84.3", "@rudderstack/analytics-js": "3.34.1"}
CACHE = Path(os.environ.get("LEADSTREAM_SDK_CACHE") or REPO / ".cache" / "browser-sdks")
NPM_TIMEOUT_S = 300
SEGMENT_BUNDLES = Path("node_modules/@segment/analytics-next/dist/umd")
RUDDERSTACK_BUNDLE = Path("node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js")


def _installed(cache: Path) -> bool:
    for package, version in SDK_VERSIONS.items():
        manifest = cache / "node_modules" / package / "package.json"
        try:
            if json.loads(manifest.read_text())["version"] != version:
                return False
        except (OSError, ValueError, KeyError):
            return False
    return True


def installed_sdks(cache: Path = CACHE) -> Path:
    """The directory holding both SDKs at their pinned versions; npm installs them the first time."""
    if _installed(cache):
        return cache
    npm = shutil.which("npm")
    if npm is None:
        skip_or_fail_under_ci("npm is not installed (Debian's npm package), so the browser SDKs cannot be fetched",
                              "the browser SDK tests")
    cache.mkdir(parents=True, exist_ok=True)
    # A package.json of its own, so npm installs here and never walks up into the repository.
    (cache / "package.json").write_text(json.dumps({"name": "leadstream-browser-sdks", "private": True}))
    specs = [f"{package}@{version}" for package, version in SDK_VERSIONS.items()]
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(cache), *specs],
                            capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False)
    if result.returncode != 0 or not _installed(cache):
        raise RuntimeError(f"npm install {' '.join(specs)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return cache


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Pricing</title>{script}</head>
<body><h1>Pricing</h1><p>A page that runs {sdk}.</p></body></html>
"""
SCRIPTS = {
    # Segment's UMD build loads its lazy chunks from the CDN it finds in window.analytics._cdn (else
    # Segment's own): here, from this server, where the same build's chunks are served.
    "segment": '<script>window.analytics = {_cdn: location.origin + "/segment"};</script>'
               '<script src="/segment/analytics-next/bundles/index.js"></script>',
    "rudderstack": '<script src="/rudderstack/index.js"></script>',
}


def page_app(sdks: Path) -> web.Application:
    """``/pricing?sdk=segment`` (or ``rudderstack``): a page carrying that SDK, and the SDKs' files."""

    async def pricing(request: web.Request) -> web.Response:
        sdk = request.query.get("sdk", "")
        if sdk not in SCRIPTS:
            raise web.HTTPNotFound()
        return web.Response(text=PAGE.format(script=SCRIPTS[sdk], sdk=sdk), content_type="text/html")

    async def rudderstack(request: web.Request) -> web.FileResponse:
        return web.FileResponse(sdks / RUDDERSTACK_BUNDLE)

    app = web.Application()
    app.router.add_get("/pricing", pricing)
    app.router.add_static("/segment/analytics-next/bundles/", sdks / SEGMENT_BUNDLES)
    app.router.add_get("/rudderstack/index.js", rudderstack)
    return app
