"""What a client of the collector sees while Kafka is down, and that its retry is scored once.

test_broker_loss.py proves nothing is lost across the outage; this one holds the collector to
its answers (docs/collector.md): 503 with `Retry-After` while Kafka cannot take events,
`/healthz` not ready, and after the broker is back the client's retry of the same batch (the
same messageIds, sent again even after a 200, as a client that lost the answer would) is
accepted and every event scored exactly once, the copies deduplicated by the worker.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import pytest

from tests.fault.harness import journey, wait_until
from tests.integration.pipeline_harness import start_collector, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.asyncio(loop_scope="session")]


async def post_batch(url: str, messages: list[dict[str, Any]]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POSTs /v1/batch; the status, headers and JSON body of the answer."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.post(url + "/v1/batch", data=orjson.dumps({"batch": messages})) as response:
            return response.status, dict(response.headers), orjson.loads(await response.read())


async def test_during_a_kafka_outage_the_collector_says_retry_and_the_retry_is_scored_once(
    apache_kafka_factory, tmp_path,
):
    kafka = apache_kafka_factory(data_dir=tmp_path / "kafka")
    kafka.start()
    pipeline = await start_pipeline(kafka.bootstrap, tmp_path, workers=1)
    collector = await start_collector(pipeline, tmp_path)
    try:
        before = [event for lead in ("outage-a", "outage-b") for event in journey(lead)]
        during = [event for lead in ("outage-c", "outage-d") for event in journey(lead)]
        assert (await post_batch(collector.url, before))[0] == 200
        assert (await collector.get_json("/healthz")) == (200, {"ready": True})

        kafka.kill()
        status, headers, body = await post_batch(collector.url, during)
        health_while_down = await collector.get_json("/healthz")
        kafka.start()  # the same ports and log dir, no formatting

        async def ready_again() -> bool:
            return (await collector.get_json("/healthz"))[0] == 200

        await wait_until(ready_again, 60, "the collector's /healthz to be ready again")
        retries: list[int] = []

        async def retried() -> bool:  # the client's retry, Retry-After seconds apart
            retry_status, retry_headers, _ = await post_batch(collector.url, during)
            retries.append(retry_status)
            if retry_status == 503:
                await asyncio.sleep(float(retry_headers["Retry-After"]))
            return retry_status == 200

        await wait_until(retried, 60, "the retried batch to be accepted")
        # A client that lost that 200 on the way sends the batch once more: a certain duplicate.
        assert (await post_batch(collector.url, during))[0] == 200
        accounting = await settled_worker_accounting(pipeline, collector, timeout=60)
    finally:
        collector.stop()
        await stop_pipeline(pipeline)

    assert (status, headers.get("Retry-After"), body["success"]) == (503, "1", False), (status, headers, body)
    assert health_while_down == (503, {"ready": False})
    assert set(retries[:-1]) <= {503} and retries[-1] == 200, retries
    unique = len(before) + len(during)
    assert accounting["scored"] == unique, accounting  # each messageId scored once, whatever the copies
    assert accounting["deduplicated"] == accounting["received"] - unique >= len(during), accounting
    assert (accounting["dead_lettered"], accounting["ignored"], accounting["balanced"]) == (0, 0, True)


async def settled_worker_accounting(pipeline: Any, collector: Any, timeout: float) -> dict[str, Any]:
    """The worker's accounting once it has received every event the collector accepted (200s only)."""
    deadline = time.monotonic() + timeout
    while True:
        _, taken_in = await collector.get_json("/accounting")
        accounting = await pipeline.accounting()
        if accounting["received"] >= taken_in["accepted"] and accounting["balanced"]:
            return accounting
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker never caught up: collector {taken_in}, worker {accounting}")
        await asyncio.sleep(0.2)
