"""The broker dies and comes back on its own log dir: the collector answers within a bound while it
is gone, and collector and worker carry on by themselves once it is back, with nothing lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from tests.fault.harness import journey, live_accounting, until_matches, wait_until
from tests.fault.reference import Reference
from tests.integration.pipeline_harness import start_collector, start_pipeline, stop_pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.asyncio(loop_scope="session")]
DOWN_FOR_S = 10.0
ANSWER_BOUND_S = 15.0  # the collector waits 10 s for Kafka, then answers 503: never longer than this
# docs/collector.md: a 503 tells the client to retry after one second.
RETRY_AFTER_S = 1
# The collector is ready only while a broker answers it (streams/collector/server.py): a load
# balancer stops sending it events during the outage.
HEALTH_WHILE_DOWN = (503, {"ready": False})
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


async def post_batch(url: str, messages: list[dict[str, Any]]) -> tuple[int, float, dict[str, str]]:
    """POSTs /v1/batch; returns the status, how long the answer took, and its headers."""
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.post(url + "/v1/batch", data=orjson.dumps({"batch": messages})) as response:
            await response.read()
            return response.status, time.monotonic() - started, dict(response.headers)


async def get_pixel(url: str) -> tuple[int, str, bytes]:
    """An anonymous visitor's pixel hit (held by the worker, so no lead the reference run lacks)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        async with session.get(url + "/p.gif?path=/pricing", headers={"User-Agent": CHROME}) as response:
            return response.status, response.headers["Content-Type"], await response.read()


async def collector_accounting(collector: Any) -> dict[str, Any]:
    return (await collector.get_json("/accounting"))[1]


def in_flight(accounting: dict[str, Any]) -> int:
    """Events the collector answered for that Kafka has neither taken nor refused yet."""
    return accounting["received"] - accounting["accepted"] - accounting["rejected"] - accounting["consent_refused"]


def balanced_collector(collector: Any) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def check() -> dict[str, Any] | None:
        accounting = await collector_accounting(collector)
        return accounting if accounting["balanced"] else None
    return check


def batch_of(leads: list[str]) -> list[dict[str, Any]]:
    return [message for lead in leads for message in journey(lead)]


async def test_a_lost_broker_is_survived_by_collector_and_worker_without_losing_an_event(
    apache_kafka_factory, tmp_path, fault_outcome,
):
    kafka = apache_kafka_factory(data_dir=tmp_path / "kafka")
    kafka.start()
    pipeline = await start_pipeline(kafka.bootstrap, tmp_path, workers=1)
    collector = await start_collector(pipeline, tmp_path)
    try:
        before, during, after = ([f"loss-{phase}-{n}" for n in range(5)] for phase in "bda")
        reference = Reference.of(batch_of(before) + batch_of(during) + batch_of(after))
        assert (await post_batch(collector.url, batch_of(before)))[0] == 200
        await pipeline.changes_for(before[-1], count=3)

        kafka.kill()
        killed_at = time.monotonic()
        status_while_down, answer_s, headers_while_down = await post_batch(collector.url, batch_of(during))
        # Kafka did not take the batch: 503, and the client is told when to retry.
        assert status_while_down == 503 and answer_s <= ANSWER_BOUND_S, (status_while_down, answer_s)
        assert int(headers_while_down["Retry-After"]) == RETRY_AFTER_S, headers_while_down
        # The pixel answers without waiting for Kafka: its GIF is back while its event is still in flight.
        taken_before_pixel = await collector_accounting(collector)
        pixel_status, pixel_type, _ = await get_pixel(collector.url)
        taken_after_pixel = await collector_accounting(collector)
        assert (pixel_status, pixel_type) == (200, "image/gif")
        assert taken_after_pixel["received"] - taken_before_pixel["received"] == 1
        assert in_flight(taken_after_pixel) == 1, taken_after_pixel
        health_status, health_while_down = await collector.get_json("/healthz")
        assert (health_status, health_while_down) == HEALTH_WHILE_DOWN
        await asyncio.sleep(max(DOWN_FOR_S - (time.monotonic() - killed_at), 0))
        restarted_at = time.monotonic()
        kafka.start()  # the same ports and log dir, no formatting
        broker_start_s = time.monotonic() - restarted_at

        # A client told 503 retries after Retry-After; the collector takes events again by itself.
        async def taken() -> bool:
            return (await post_batch(collector.url, batch_of(during)))[0] == 200

        await wait_until(taken, 60, "the collector to take events again")
        collector_back_s = time.monotonic() - restarted_at
        assert (await post_batch(collector.url, batch_of(after)))[0] == 200
        differences = await until_matches(pipeline, reference, 90)
        worker_back_s = time.monotonic() - restarted_at
        assert not differences, "\n".join(differences)
        assert pipeline.worker.process.poll() is None and collector.process.poll() is None
        accounting = await live_accounting(pipeline)
        taken_in = await wait_until(balanced_collector(collector), 60, "the pixel event to be delivered or dropped")
        fault_outcome(
            "broker loss (SIGKILL the broker, restart it on its log dir 10 s later)",
            events_posted=taken_in["received"], collector_accepted=taken_in["accepted"],
            collector_unavailable=taken_in["rejected_by_reason"].get("unavailable", 0),
            status_while_down=status_while_down, answer_while_down_s=round(answer_s, 1),
            collector_health_while_down=health_while_down, scored=accounting["scored"],
            deduplicated=accounting["deduplicated"], broker_start_s=round(broker_start_s, 1),
            collector_back_after_restart_s=round(collector_back_s, 1),
            worker_caught_up_after_restart_s=round(worker_back_s, 1),
        )
    finally:
        collector.stop()
        await stop_pipeline(pipeline)
