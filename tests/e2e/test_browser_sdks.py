"""Segment's and RudderStack's own browser SDKs, from npm, in headless Chromium, against the collector.

As a team that already runs one of them would: the SDK on a page of their site, its one setting
pointed at the collector (Segment's ``apiHost``, RudderStack's data plane URL), a write key, and
the visitor viewing pricing, identifying and requesting a demo. Every call must be accepted (the
browser sees a 2xx from the collector, after CORS preflights for the headers each SDK sends),
accounted for, and scored by a worker on Apache Kafka. Each SDK runs with its default delivery
(one request a call) and with its batching, RudderStack's with sendBeacon too.

Chromium resolves no host name but the loopback's (``--host-resolver-rules``), so the SDKs reach
nothing beyond this machine; what they would fetch from their vendor's CDN or control plane is
given on the page (tests/e2e/browser_sdks.py says which).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from aiohttp import web

from tests.e2e.browser import Browser, chromium_executable, output_dir
from tests.e2e.browser_sdks import installed_sdks, page_app
from tests.integration.pipeline_harness import start_collector, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]
WRITE_KEY = "sdk-web-write-key-1"
# A person's Chrome: the collector and the worker take a headless browser's own agent for a bot.
VISITOR_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
ONLY_LOOPBACK = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
TRAITS = {"email": "ada@initech.com", "title": "VP Marketing", "employees": 400}
DELIVERY_TIMEOUT_S = 30.0

# What a site's code calls, written as each SDK's documentation shows; the page gets the collector's
# address and the write key. Segment: the user's one setting is integrations["Segment.io"].apiHost
# (and the protocol); ``cdnSettings`` stands in for what Segment's CDN answers for the write key.
SEGMENT_SCRIPT = """async ({writeKey, collectorHost, lead, traits, batching}) => {
  const {AnalyticsBrowser} = window.AnalyticsNext;
  const segmentio = {apiHost: collectorHost + '/v1', protocol: 'http'};
  if (batching) segmentio.deliveryStrategy = {strategy: 'batching', config: {size: 3, timeout: 1000}};
  const [analytics] = await AnalyticsBrowser.load(
    {writeKey, cdnURL: location.origin + '/segment',
     cdnSettings: {integrations: {'Segment.io': {apiKey: writeKey, apiHost: 'api.segment.io/v1'}}}},
    {integrations: {'Segment.io': segmentio}});
  await analytics.page();
  await analytics.identify(lead, traits);
  await analytics.track('Demo Requested', {plan: 'pro'});
  return analytics.user().anonymousId();
}"""
# RudderStack: the user's one setting is the data plane URL, load()'s second argument;
# ``getSourceConfig`` stands in for RudderStack's control plane.
RUDDERSTACK_SCRIPT = """async ({writeKey, collectorHost, lead, traits, batching}) => {
  const analytics = new window.rudderanalytics.RudderAnalytics();
  const sourceConfig = {source: {id: 'leadstream-e2e', name: 'leadstream e2e', workspaceId: 'e2e', enabled: true,
    config: {statsCollection: {errors: {enabled: false}, metrics: {enabled: false}}}, destinations: []}};
  const options = {getSourceConfig: () => sourceConfig, polyfillIfRequired: false};
  if (batching === 'batch') options.queueOptions = {batch: {enabled: true, maxItems: 3, flushInterval: 1000}};
  if (batching === 'beacon') Object.assign(options, {useBeacon: true, beaconQueueOptions: {maxItems: 3, flushQueueInterval: 1000}});
  analytics.load(writeKey, 'http://' + collectorHost, options);
  await new Promise((resolve) => analytics.ready(resolve));
  analytics.page();
  analytics.identify(lead, traits);
  analytics.track('Demo Requested', {plan: 'pro'});
  return analytics.getAnonymousId();
}"""
SCRIPTS = {"segment": SEGMENT_SCRIPT, "rudderstack": RUDDERSTACK_SCRIPT}
# The paths each SDK posts to, by delivery.
PATHS = {
    ("segment", False): {"/v1/p", "/v1/i", "/v1/t"},
    ("segment", True): {"/v1/b"},
    ("rudderstack", False): {"/v1/page", "/v1/identify", "/v1/track"},
    ("rudderstack", "batch"): {"/v1/batch"},
    ("rudderstack", "beacon"): {"/beacon/v1/batch"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser():
    executable = chromium_executable()  # before anything starts: skip (or fail in CI) fast
    sdks = installed_sdks()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        yield Browser(playwright, executable), sdks


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(browser):
    """The website the visitor browses, on its own origin (so every call to the collector is cross-origin)."""
    runner = web.AppRunner(page_app(browser[1]), access_log=None)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(site: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    log_dir = tmp_path_factory.mktemp("sdks")
    pipeline = await start_pipeline(kafka_bootstrap, log_dir)
    collector = await start_collector(pipeline, log_dir, env={
        "LEADSTREAM_COLLECTOR_WRITE_KEYS": f"web:{WRITE_KEY}",
        "LEADSTREAM_COLLECTOR_ALLOWED_ORIGINS": site,  # as the docs advise: the site's own origin
    })
    yield pipeline, collector
    collector.stop()
    await stop_pipeline(pipeline)


async def collector_accounting(collector) -> dict[str, Any]:
    return (await collector.get_json("/accounting"))[1]


async def accepted_at_least(collector, count: int) -> dict[str, Any]:
    """The collector's accounting once it accepted ``count`` events in all, or as it is after the timeout."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        accounting = await collector_accounting(collector)
        if accounting["accepted"] >= count or time.monotonic() > deadline:
            return accounting
        await asyncio.sleep(0.2)


@pytest.mark.parametrize(("sdk", "batching"), [
    ("segment", False), ("segment", True), ("rudderstack", False), ("rudderstack", "batch"), ("rudderstack", "beacon"),
], ids=["segment", "segment-batched", "rudderstack", "rudderstack-batched", "rudderstack-beacon"])
async def test_the_sdks_page_identify_and_track_are_accepted_accounted_and_scored(browser, site, stack, sdk, batching):
    chromium, _ = browser
    pipeline, collector = stack
    mode = {False: "single", True: "batched"}.get(batching, batching)
    lead = f"{sdk}-{mode}-lead"
    collector_host = urlsplit(collector.url).netloc
    before = await collector_accounting(collector)
    answers: list[tuple[str, str, int]] = []
    failed: list[str] = []
    console: list[str] = []

    async with chromium.context(ONLY_LOOPBACK, user_agent=VISITOR_AGENT) as context:
        page = await context.new_page()
        page.on("console", lambda message: console.append(message.text))
        page.on("response", lambda response: answers.append(
            (response.request.method, urlsplit(response.url).path, response.status))
            if urlsplit(response.url).netloc == collector_host else None)
        page.on("requestfailed", lambda request: failed.append(f"{request.method} {request.url}: {request.failure}"))
        await page.goto(f"{site}/pricing?sdk={sdk}")
        anonymous_id = await page.evaluate(SCRIPTS[sdk], {"writeKey": WRITE_KEY, "collectorHost": collector_host,
                                                          "lead": lead, "traits": TRAITS, "batching": batching})
        # The page stays open while the SDK delivers (a batch waits for its size or its timer).
        after = await accepted_at_least(collector, before["accepted"] + 3)
        await page.screenshot(path=str(output_dir("browser-sdks") / f"{sdk}-{mode}.png"))

    seen = f"the browser's calls to the collector: {answers}\nfailed: {failed}\nconsole: {console}"
    assert after["accepted"] == before["accepted"] + 3, seen
    assert not failed, seen
    assert {path for _, path, _ in answers} == PATHS[(sdk, batching)], answers
    assert all(method == "POST" and status == 200 for method, _, status in answers), answers
    delta = {kind: after["accepted_by_type"].get(kind, 0) - before["accepted_by_type"].get(kind, 0)
             for kind in ("page", "identify", "track")}
    assert delta == {"page": 1, "identify": 1, "track": 1}
    assert after["rejected"] == before["rejected"] and after["balanced"]

    document = await pipeline.lead_when(
        lead, lambda d: {"pricing_view", "demo_request"} <= {c["signal"] for c in d["contributions"]})
    assert document["profile"]["email"] == TRAITS["email"]
    assert anonymous_id  # the SDK's own visitor id: its anonymous page view was credited to the lead above
    worker = await pipeline.accounting()
    assert worker["balanced"]
