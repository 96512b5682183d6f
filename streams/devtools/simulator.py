"""Realistic lead journeys for the demo: most leads stay cold, some warm up, a few turn hot.

``plan_wave`` is a pure function of its seed and clock, so a run can be repeated; ``send_waves``
is the thin shell that replays plans in real time, handing what is due to a ``deliver`` coroutine
(``leadstream dev`` posts them to the collector). Known leads browse anonymously first, as real
visitors do, so identify has history to stitch. Events are stamped on the demo's clock (the
worker's and collector's LEADSTREAM_CLOCK); on a fast one a visit's clicks are minutes apart in
demo time while leads arrive days apart, so a one-minute run shows leads cooling for weeks.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import orjson

from streams.config.clock import Clock

BROWSER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
CRAWLER_AGENT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
COMPANIES = ("acme.io", "globex.com", "initech.com", "umbrella.co", "hooli.com", "stark.io", "wayne.co",
             "wonka.com", "tyrell.io", "cyberdyne.io", "soylent.co", "vandelay.com")
# Leads that should never reach sales: a competitor, a student, a personal address.
OUT_OF_MARKET = ("rivalscore.com", "state.edu", "gmail.com")
TITLES = ("Marketing Manager", "VP Engineering", "CTO", "Head of Sales Ops", "Analyst", "Director of IT")
# On a fast clock, a visit's clicks stay about this far apart in demo time (0.4–3 s on the wall clock).
DEMO_CLICK_GAP_S = 600.0
INDUSTRIES = ("software", "saas", "fintech", "manufacturing", "retail")
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN")


@dataclass(frozen=True)
class PlannedEvent:
    offset_s: float  # seconds after the wave starts
    key: bytes
    value: bytes
    label: str  # what the event is, for the summary ("page", "malformed", "duplicate", ...)


@dataclass
class _Journey:
    rng: random.Random
    start: float
    lead_key: str
    user_id: str | None
    anonymous_id: str
    events: list[PlannedEvent] = field(default_factory=list)
    clock: float = 0.0
    sequence: int = 0
    step_scale: float = 1.0  # below 1 on a fast clock: a visit's clicks stay minutes apart in demo time
    on_clock: Callable[[float], float] = float  # a wall moment's reading on the demo's clock

    def _message(self, body: dict, at: float) -> dict:
        self.sequence += 1
        identity = {"userId": self.user_id} if self.user_id else {}
        return {
            "messageId": f"{self.lead_key}-{self.sequence}",
            "anonymousId": self.anonymous_id,
            **identity,
            "timestamp": datetime.fromtimestamp(self.on_clock(self.start + at), timezone.utc).isoformat(),
            "context": {"userAgent": BROWSER_AGENT, "ip": "203.0.113.0"},
            **body,
        }

    def add(self, body: dict, label: str) -> None:
        self.clock += self.rng.uniform(0.4, 3.0) * self.step_scale
        message = self._message(body, self.clock)
        raw = orjson.dumps(message)
        key = (self.user_id or self.anonymous_id).encode()  # the raw topic's key: userId, else anonymousId
        self.events.append(PlannedEvent(self.clock, key, raw, label))
        if self.rng.random() < 0.03:  # trackers retry: the same message arrives twice
            self.events.append(PlannedEvent(self.clock + 0.05 * self.step_scale, key, raw, "duplicate"))

    def page(self, path: str) -> None:
        self.add({"type": "page", "properties": {"path": path, "url": f"https://example.com{path}"}}, "page")

    def track(self, name: str, **properties: object) -> None:
        self.add({"type": "track", "event": name, "properties": properties}, "track")

    def identify(self, email: str, traits: dict[str, object]) -> None:
        """From here on the visitor is known: identify links its anonymous history to the lead."""
        self.user_id = self.lead_key
        self.add({"type": "identify", "traits": {"email": email, **traits}}, "identify")


def _browser(j: _Journey) -> None:
    for _ in range(j.rng.randint(1, 4)):
        j.page(j.rng.choice(("/blog/lead-scoring", "/blog/intent-data", "/", "/about", "/careers")))
    if j.user_id and j.rng.random() < 0.3:
        j.track("Newsletter Subscribed")


def _researcher(j: _Journey) -> None:
    for _ in range(j.rng.randint(1, 3)):
        j.page(j.rng.choice(("/product", "/features/scoring", "/product/integrations")))
    j.track("Case Study Downloaded", title="How Acme doubled SQLs")
    j.track("Webinar Registered")
    if j.rng.random() < 0.5:
        j.track("Email Link Clicked")
    if j.rng.random() < 0.4:
        j.track("Webinar Attended")


def _buyer(j: _Journey) -> None:
    _researcher(j)
    for _ in range(j.rng.randint(2, 3)):
        j.page(j.rng.choice(("/pricing", "/pricing/enterprise")))
    # The demo form asks BANT questions; most buyers confirm need and authority at once,
    # budget and timeline come later (sales call, calculator) or not at all.
    j.track("Demo Requested", need="yes", decision_maker=j.rng.random() < 0.8)
    if j.rng.random() < 0.7:
        j.track("Contact Form Submitted", budget_confirmed="yes", purchase_timeline="this quarter")


def _trialist(j: _Journey) -> None:
    j.page("/product")
    j.track("Trial Started")
    for _ in range(j.rng.randint(2, 6)):
        j.track("Feature Used", feature=j.rng.choice(("scoring", "alerts", "webhooks")))


def _unsubscriber(j: _Journey) -> None:
    j.track("Email Opened")
    j.track(j.rng.choice(("Email Unsubscribed", "Email Hard Bounced")))


def _noise(j: _Journey) -> None:
    """What real traffic also carries: clicks nobody mapped, crawlers, and broken payloads."""
    if j.rng.random() < 0.10:
        j.track("Button Clicked", button="cta-header")
    if j.rng.random() < 0.05:
        broken = b'{"type": "page", "messageId": "tr'
        j.events.append(PlannedEvent(j.clock + 0.1 * j.step_scale, j.lead_key.encode(), broken, "malformed"))
    if j.rng.random() < 0.05:
        bot = {"type": "page", "messageId": f"{j.lead_key}-bot", "anonymousId": f"crawler-{j.lead_key}",
               "properties": {"path": "/pricing"}, "context": {"userAgent": CRAWLER_AGENT}}
        j.events.append(PlannedEvent(j.clock + 0.2 * j.step_scale, f"crawler-{j.lead_key}".encode(), orjson.dumps(bot),
                                     "bot"))


def _persona(draw: float, known: bool) -> Callable[[_Journey], None]:
    if not known:
        return _researcher if draw < 0.3 else _browser
    for share, persona in ((0.14, _buyer), (0.20, _trialist), (0.24, _unsubscriber), (0.50, _researcher)):
        if draw < share:
            return persona
    return _browser


def plan_wave(seed: int, leads: int, span_s: float, start: float, clock: Clock = Clock()) -> list[PlannedEvent]:
    """One wave of ``leads`` journeys spread over ``span_s`` wall seconds from ``start``, sorted by time,
    each event stamped with ``clock``'s reading at the moment it is due."""
    rng = random.Random(seed)
    step_scale = min(1.0, DEMO_CLICK_GAP_S / clock.speed)
    planned: list[PlannedEvent] = []
    for index in range(leads):
        anonymous_id = f"v-{seed}-{index}"
        known = rng.random() < 0.75
        lead_key = f"lead-{seed}-{index}" if known else anonymous_id
        journey = _Journey(rng, start, lead_key, None, anonymous_id, clock=rng.uniform(0.0, span_s * 0.5),
                           step_scale=step_scale, on_clock=clock.at_wall)
        if known:
            for _ in range(rng.randint(0, 2)):  # visits before anyone knows who it is
                journey.page(rng.choice(("/", "/product", "/blog/lead-scoring", "/pricing")))
            domain = rng.choice(OUT_OF_MARKET) if rng.random() < 0.08 else rng.choice(COMPANIES)
            journey.identify(f"{lead_key}@{domain}", {
                "title": rng.choice(TITLES), "industry": rng.choice(INDUSTRIES),
                "employees": rng.choice((12, 80, 250, 1200, 9000)), "country": rng.choice(COUNTRIES),
            })
        _persona(rng.random(), known)(journey)
        _noise(journey)
        planned.extend(event for event in journey.events if event.offset_s <= span_s)
    return sorted(planned, key=lambda event: event.offset_s)


async def send_waves(
    deliver: Callable[[list[PlannedEvent]], Awaitable[None]], leads_per_wave: int, span_s: float, seed: int,
    should_stop: Callable[[], bool], max_batch: int = 100, clock: Clock = Clock(),
) -> None:
    """Replay waves of journeys in real time until ``should_stop`` says so, in batches of what is due."""
    wave = 0
    while not should_stop():
        start = time.time()
        planned = plan_wave(seed + wave, leads_per_wave, span_s, start, clock)
        while planned:
            delay = start + planned[0].offset_s - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if should_stop():
                return
            due = start + planned[0].offset_s
            batch = [event for event in planned[:max_batch] if start + event.offset_s <= max(due, time.time())]
            del planned[:len(batch)]
            await deliver(batch)
        wave += 1
