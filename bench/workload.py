"""A deterministic, realistic mix of Segment-style events, generated fast for the benchmark.

The mix follows ``streams/devtools/simulator.py``'s journeys (buyers, researchers, trialists,
unsubscribers, browsers; three in four leads identified, the rest anonymous visitors), plus
the noise real traffic carries: tracker retries (duplicates), clicks nobody mapped, crawlers
and broken payloads. Unlike the simulator, which replays journeys in real time, this draws a
fixed number of events over a fixed number of leads from one seed in about a second, and keys
every event the way the collector does (userId, else anonymousId).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from streams.devtools.simulator import BROWSER_AGENT, COMPANIES, COUNTRIES, CRAWLER_AGENT, INDUSTRIES, OUT_OF_MARKET, TITLES

# The tracker's context: its user agent is a third of a typical message's bytes.
CONTEXT = {"userAgent": BROWSER_AGENT, "ip": "203.0.113.7"}
BOT_CONTEXT = {"userAgent": CRAWLER_AGENT, "ip": "66.249.66.1"}
MALFORMED = b'{"type": "page", "messageId": "tr'

# Shares of the noise, per generated event.
DUPLICATE_SHARE = 0.03  # trackers retry: the same message arrives twice
MALFORMED_SHARE = 0.005
BOT_SHARE = 0.02
UNMAPPED_SHARE = 0.03
ANONYMOUS_SHARE = 0.25

Step = tuple[str, dict]  # (type, body fields)


def _page(path: str) -> Step:
    return "page", {"properties": {"path": path, "title": path.rsplit("/", 1)[-1] or "home"}}


def _track(name: str, **properties: object) -> Step:
    return "track", {"event": name, "properties": properties}


BLOG = ("/blog/lead-scoring", "/blog/intent-data", "/", "/about", "/careers")
PRODUCT = ("/product", "/features/scoring", "/product/integrations")
PRICING = ("/pricing", "/pricing/enterprise")


def _browser(rng: random.Random) -> Step:
    if rng.random() < 0.08:
        return _track("Newsletter Subscribed")
    return _page(rng.choice(BLOG))


def _researcher(rng: random.Random) -> Step:
    draw = rng.random()
    if draw < 0.40:
        return _page(rng.choice(PRODUCT))
    if draw < 0.55:
        return _track("Case Study Downloaded", title="How Acme doubled SQLs")
    if draw < 0.65:
        return _track("Webinar Registered", webinar="Scoring leads in real time")
    if draw < 0.72:
        return _track("Webinar Attended", webinar="Scoring leads in real time")
    if draw < 0.85:
        return _track("Email Link Clicked", campaign="nurture-3")
    return _page(rng.choice(BLOG))


def _buyer(rng: random.Random) -> Step:
    draw = rng.random()
    if draw < 0.45:
        return _researcher(rng)
    if draw < 0.70:
        return _page(rng.choice(PRICING))
    if draw < 0.82:
        # The demo form asks BANT questions; need and authority usually come first.
        return _track("Demo Requested", need="yes", decision_maker=rng.random() < 0.8)
    if draw < 0.92:
        return _track("Contact Form Submitted", budget_confirmed="yes", purchase_timeline="this quarter")
    return _track("Price List Downloaded")


def _trialist(rng: random.Random) -> Step:
    draw = rng.random()
    if draw < 0.15:
        return _page("/product")
    if draw < 0.25:
        return _track("Trial Started", plan="team")
    if draw < 0.85:
        return _track("Feature Used", feature=rng.choice(("scoring", "alerts", "webhooks")))
    return _page(rng.choice(PRICING))


def _unsubscriber(rng: random.Random) -> Step:
    draw = rng.random()
    if draw < 0.55:
        return _track("Email Opened", campaign="nurture-3")
    if draw < 0.80:
        return _page(rng.choice(BLOG))
    return _track(rng.choice(("Email Unsubscribed", "Email Bounced", "Email Hard Bounced")))


# (cumulative share, persona) for identified leads; anonymous visitors only browse or research.
KNOWN_PERSONAS: tuple[tuple[float, Callable[[random.Random], Step]], ...] = (
    (0.14, _buyer), (0.24, _trialist), (0.34, _unsubscriber), (0.62, _researcher), (1.0, _browser),
)


@dataclass
class _Lead:
    key: str  # the collector's key: userId, else anonymousId
    user_id: str | None
    anonymous_id: str
    persona: Callable[[random.Random], Step]
    traits: dict | None  # identify traits, sent as the lead's first event
    sent: int = 0


@dataclass(frozen=True)
class Workload:
    """Events ready to produce: parallel lists of keys and values, and what each kind counts."""

    keys: list[bytes]
    values: list[bytes]
    labels: Counter[str]
    leads: int

    def __len__(self) -> int:
        return len(self.values)

    def pairs(self) -> Iterator[tuple[bytes, bytes]]:
        return zip(self.keys, self.values)

    @property
    def mean_bytes(self) -> float:
        return sum(map(len, self.values)) / max(len(self.values), 1)

    def without_malformed(self) -> Workload:
        """The same events minus the broken payloads (a tutorial-style Faust agent crashes on them)."""
        kept = [(key, value) for key, value in self.pairs() if value != MALFORMED]
        labels = self.labels.copy()
        del labels["malformed"]
        return Workload([key for key, _ in kept], [value for _, value in kept], labels, self.leads)


class _Generator:
    def __init__(self, seed: int, start: float, spacing_s: float, lead_prefix: str, limit: int) -> None:
        self.limit = limit  # noise never takes the workload past this many events
        self.rng = random.Random(seed)
        self.start = start
        self.spacing_s = spacing_s
        self.lead_prefix = lead_prefix
        self.keys: list[bytes] = []
        self.values: list[bytes] = []
        self.labels: Counter[str] = Counter()

    def lead(self, index: int) -> _Lead:
        rng = self.rng
        anonymous_id = f"{self.lead_prefix}v{index}"
        if rng.random() < ANONYMOUS_SHARE:
            persona = _researcher if rng.random() < 0.3 else _browser
            return _Lead(anonymous_id, None, anonymous_id, persona, None)
        user_id = f"{self.lead_prefix}lead-{index}"
        draw = rng.random()
        persona = next(p for share, p in KNOWN_PERSONAS if draw < share)
        domain = rng.choice(OUT_OF_MARKET) if rng.random() < 0.08 else rng.choice(COMPANIES)
        traits = {
            "email": f"{user_id}@{domain}", "title": rng.choice(TITLES), "industry": rng.choice(INDUSTRIES),
            "employees": rng.choice((12, 80, 250, 1200, 9000)), "country": rng.choice(COUNTRIES),
        }
        return _Lead(user_id, user_id, anonymous_id, persona, traits)

    def _timestamp(self) -> str:
        moment = self.start + len(self.values) * self.spacing_s
        return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="milliseconds")

    def _append(self, key: str, value: bytes, label: str) -> None:
        if len(self.values) >= self.limit:
            return
        self.keys.append(key.encode())
        self.values.append(value)
        self.labels[label] += 1

    def event_of(self, lead: _Lead) -> None:
        """The lead's next event (identify first for known leads), sometimes with noise around it."""
        rng = self.rng
        lead.sent += 1
        if lead.traits is not None and lead.sent == 1:
            kind, body, label = "identify", {"traits": lead.traits}, "identify"
        elif rng.random() < UNMAPPED_SHARE:
            (kind, body), label = _track("Button Clicked", button="cta-header"), "unmapped"
        else:
            kind, body = lead.persona(rng)
            label = kind
        identity = {"userId": lead.user_id} if lead.user_id else {}
        message = {
            "type": kind,
            "messageId": f"{lead.key}-{lead.sent}",
            "anonymousId": lead.anonymous_id,
            **identity,
            "timestamp": self._timestamp(),
            "context": CONTEXT,
            **body,
        }
        raw = orjson.dumps(message)
        self._append(lead.key, raw, label)
        draw = rng.random()
        if draw < DUPLICATE_SHARE:
            self._append(lead.key, raw, "duplicate")
        elif draw < DUPLICATE_SHARE + MALFORMED_SHARE:
            self._append(lead.key, MALFORMED, "malformed")
        elif draw < DUPLICATE_SHARE + MALFORMED_SHARE + BOT_SHARE:
            crawler = f"crawler-{rng.randrange(1000)}"
            bot = {"type": "page", "messageId": f"{crawler}-{len(self.values)}", "anonymousId": crawler,
                   "timestamp": self._timestamp(), "properties": {"path": rng.choice(PRICING + PRODUCT)},
                   "context": BOT_CONTEXT}
            self._append(crawler, orjson.dumps(bot), "bot")

    def workload(self, leads: int) -> Workload:
        return Workload(self.keys, self.values, self.labels, leads)


def generate(events: int, leads: int, seed: int = 7, start: float | None = None, spacing_s: float = 0.05,
             lead_prefix: str = "") -> Workload:
    """``events`` events over ``leads`` leads, interleaved as real traffic is (each event a random lead's next).

    Event times start at ``start`` (default: as far back as the events need at ``spacing_s``
    apart, so the last is about now) and advance ``spacing_s`` per event.
    """
    if start is None:
        start = time.time() - events * spacing_s
    generator = _Generator(seed, start, spacing_s, lead_prefix, events)
    held = [generator.lead(index) for index in range(leads)]
    # Every lead appears (its first event in lead order), then the rest at random.
    for lead in held:
        if len(generator.values) >= events:
            break
        generator.event_of(lead)
    while len(generator.values) < events:
        generator.event_of(held[generator.rng.randrange(leads)])
    return generator.workload(leads)
