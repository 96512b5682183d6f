"""`leadstream alerts` as a real process (`python -m streams alerts`) whose webhook refuses connections at first.

Nobody listens on the webhook's port when the first alert comes; the process retries with
backoff, a receiver (a local aiohttp server standing in for Slack) starts on that port, and the
alert arrives: once, and a redelivered copy of the same change is not posted again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools.brokers import free_port
from tests.integration.alert_fixtures import (
    WebhookReceiver, committed_offsets, create_qualification_topic, turning_hot,
)
from tests.integration.kafka_fixture import require_kafka_toolchain

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]


async def metric_value(port: int, name: str, **labels: str) -> float | None:
    """The sample from the process's /metrics; None while its metrics server is not up yet."""
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
    except aiohttp.ClientError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def until(condition, what: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if process.poll() is not None:
            raise AssertionError(f"leadstream alerts exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.2)


async def test_the_alerts_process_retries_a_refused_webhook_and_posts_each_alert_once(
    kafka_bootstrap: str, tmp_path: Path,
):
    require_kafka_toolchain()
    topic = await create_qualification_topic(kafka_bootstrap)
    hook_port, metrics_port = free_port(), free_port()
    receiver = WebhookReceiver(port=hook_port)
    app_id = f"leadstream-{topic.prefix[:-1]}"
    log = tmp_path / "alerts.log"
    url_file = tmp_path / "webhook-url"  # a file, as a secrets mount would hold it: never in `ps`
    url_file.write_text(f"http://127.0.0.1:{hook_port}/hooks/T000-x\n")
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", "alerts",
             "--attempts", "12", "--backoff-base", "0.1", "--request-timeout", "2",
             "--metrics-port", str(metrics_port)],
            env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LEADSTREAM_TOPIC_PREFIX": topic.prefix,
                 "LEADSTREAM_APP_ID": app_id, "LEADSTREAM_DATA_DIR": str(tmp_path / "data"),
                 "LEADSTREAM_ALERTS_WEBHOOK_URL_FILE": str(url_file)},
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    first, second = turning_hot("refused-lead-1"), turning_hot("refused-lead-2", cause="demo-2")
    try:
        assert b"T000-x" not in Path(f"/proc/{process.pid}/cmdline").read_bytes()  # what `ps` shows
        await topic.send(first)

        async def refused_twice() -> bool:
            failed = await metric_value(metrics_port, "leadstream_alerts_failed_attempts_total",
                                        sink="webhook", reason="connection")
            return failed is not None and failed >= 2

        await until(refused_twice, "two refused connections", process, log)
        await receiver.start()  # now someone listens on the webhook's port
        await topic.send(first)  # the same change again, as a redelivery would bring it
        await topic.send(second)

        async def caught_up() -> bool:
            return await committed_offsets(kafka_bootstrap, f"{app_id}-alerts", topic.name) == topic.end_offsets

        await until(caught_up, "committing every record", process, log)

        assert [post.headers["Idempotency-Key"] for post in receiver.posts] == [first.change_id, second.change_id]
        assert "refused-lead-1" in str(receiver.posts[0].body)
        for name, expected in (("leadstream_alerts_delivered_total", 2.0), ("leadstream_alerts_deduplicated_total", 1.0),
                               ("leadstream_alerts_dead_lettered_total", 0.0)):
            assert await metric_value(metrics_port, name) == expected, name
        assert not (tmp_path / "data" / "alerts-dead-letters.jsonl").exists()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=30)
        await receiver.close()
        await topic.producer.stop()
    assert exit_code == 0, log.read_text()[-3000:]
    assert len(receiver.posts) == 2  # nothing more came while it stopped
