"""A request taken as a bot is told so: the events are stored, but no lead will ever score from them.

Runs the collector's own application in front of the stand-in producer of test_collector_abuse
(a stand-in for the collector's producer wrapper, not for Kafka).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring import signals
from scoring.signals import is_bot, use_bot_patterns
from streams.collector import metrics
from streams.config.environment import settings_from
from streams.errors import ConfigError
from tests.unit.test_collector_abuse import collector_client

CURL = {"User-Agent": "curl/8.5.0"}
CHROME = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"}
BUILT_IN = signals.BOT_USER_AGENT.pattern
DOCS = Path(__file__).resolve().parents[2] / "docs" / "collector.md"


async def test_a_pixel_hit_from_curl_answers_its_gif_saying_it_was_dropped_as_a_bot():
    client, producer, intake = await collector_client({})
    try:
        bots_before = metrics.accounting()["bot_events"]
        taken = await client.get("/p.gif?uid=eval-bob&path=/pricing", headers=CURL)
        browser = await client.get("/p.gif?uid=eval-alice&path=/pricing", headers=CHROME)

        assert taken.status == 200 and taken.content_type == "image/gif"
        assert taken.headers["X-Leadstream-Dropped"] == "bot"
        assert "X-Leadstream-Dropped" not in browser.headers
        assert metrics.accounting()["bot_events"] == bots_before + 1
        assert len(producer.records) == 2  # stored all the same: the accounting counts it
        producer.release()
        await intake.drain()
    finally:
        await client.close()


async def test_a_segment_batch_from_a_script_says_in_its_json_how_many_events_were_taken_as_bots():
    client, _, _ = await collector_client({})
    try:
        def batch_from(agent: str) -> dict:
            return {"batch": [{"type": "track", "userId": "eval-bob", "event": "Demo Requested",
                               "messageId": f"{agent[:4]}-{n}", "context": {"userAgent": agent}} for n in range(3)]}

        scripted = await client.post("/v1/batch", json=batch_from(CURL["User-Agent"]))
        answer = await scripted.json()
        assert scripted.status == 200 and scripted.headers["X-Leadstream-Dropped"] == "bot"
        assert answer["accepted"] == 3 and answer["dropped_as_bot"] == 3
        assert "LEADSTREAM_COLLECTOR_BOT_PATTERNS" in answer["note"] and "no lead is scored" in answer["note"]

        browser = await client.post("/v1/batch", json=batch_from(CHROME["User-Agent"]))
        assert "dropped_as_bot" not in await browser.json() and "X-Leadstream-Dropped" not in browser.headers
    finally:
        await client.close()


def test_the_bot_rule_is_configured_by_its_variable_and_a_bad_one_is_named():
    assert settings_from({"LEADSTREAM_COLLECTOR_BOT_PATTERNS": "crawl|spider"}).bot_patterns == "crawl|spider"
    with pytest.raises(ConfigError, match="LEADSTREAM_COLLECTOR_BOT_PATTERNS: not a regular expression"):
        settings_from({"LEADSTREAM_COLLECTOR_BOT_PATTERNS": "bot("})
    try:
        use_bot_patterns("crawl|spider")
        assert not is_bot(CURL["User-Agent"]) and is_bot("MyCrawler/1.0")
    finally:
        use_bot_patterns(BUILT_IN)
    assert is_bot(CURL["User-Agent"])


def test_the_documented_default_rule_is_the_one_applied():
    assert f"`{BUILT_IN}`" in DOCS.read_text()
