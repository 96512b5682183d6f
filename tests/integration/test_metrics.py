"""The worker's /metrics after a scripted journey: counters, histograms and gauges move as they should."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools.brokers import free_port
from tests.e2e.cli import leadstream_command
from tests.monitoring_refs import referenced_metrics
from tests.integration.pipeline_harness import (
    RunningPipeline, answers, identify, page, start_pipeline, stop_pipeline, track,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory):
    running = await start_pipeline(kafka_bootstrap, tmp_path_factory.mktemp("metrics"))
    yield running
    await stop_pipeline(running)


class Scrape:
    """One scrape of a worker's /metrics, parsed by prometheus-client's own parser."""

    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples named ``name`` whose labels include ``labels``."""
        return sum(s.value for s in self.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    def names(self) -> set[str]:
        return {sample.name for sample in self.samples} | set(self.families)


def stated_latency(record: dict, since: str) -> float:
    """What a change record says elapsed from ``since`` (its ingest or its event time) to its emission."""
    return max(datetime.fromisoformat(record["emitted_at"]).timestamp()
               - datetime.fromisoformat(record[since]).timestamp(), 0.0)


async def scrape(pipeline: RunningPipeline) -> Scrape:
    async with aiohttp.ClientSession() as session:
        async with session.get(pipeline.worker.url + "/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            return Scrape(await response.text())


async def test_counters_and_histograms_move_with_a_scripted_journey(pipeline: RunningPipeline):
    before = await scrape(pipeline)
    await pipeline.send_all([
        identify("metered", "mt-1", "kim@acme.io", 0),
        page("metered", "mt-2", "/product", 1),
        track("metered", "mt-3", "Webinar Attended", 2),
        track("metered", "mt-4", "Case Study Downloaded", 3),
        track("metered", "mt-5", "Demo Requested", 4),
        answers("metered", "mt-6", 5, budget="yes", authority="yes", need="yes", timeline="Q1"),
        track("metered", "mt-7", "Button Clicked", 6),
        track("metered", "mt-7", "Button Clicked", 6),
        page("metered", "mt-6", "/pricing", 7),  # same id as the answers: a duplicate
        b"{not json",
    ])
    records = await pipeline.changes_for("metered", count=3)
    await pipeline.settled_accounting()
    after = await scrape(pipeline)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("leadstream_events_received_total") == 10
    assert delta("leadstream_events_received_total", type="track") == 6
    assert delta("leadstream_events_received_total", type="invalid") == 1
    assert delta("leadstream_events_scored_total") == 6
    assert delta("leadstream_events_ignored_total", reason="unmapped_event") == 2
    assert delta("leadstream_events_deduplicated_total") == 1
    assert delta("leadstream_events_dead_lettered_total", reason="malformed_json") == 1
    assert delta("leadstream_qualification_changes_total", from_stage="new", to_stage="iql") == 1
    assert delta("leadstream_qualification_changes_total", to_stage="sql", to_temperature="hot") == 1
    changes = delta("leadstream_qualification_changes_total")
    assert changes == len(records) == 3
    # Every emitted change is timed from ingest and from event time: the histograms hold exactly the
    # latencies its record states (emitted_at minus ingested_at or event_time, to the millisecond).
    assert delta("leadstream_qualification_ingest_latency_seconds_count") == changes
    assert delta("leadstream_qualification_event_latency_seconds_count") == changes
    assert delta("leadstream_qualification_ingest_latency_seconds_sum") == pytest.approx(
        sum(stated_latency(record, "ingested_at") for record in records), abs=0.002 * changes)
    assert delta("leadstream_qualification_event_latency_seconds_sum") == pytest.approx(
        sum(stated_latency(record, "event_time") for record in records), abs=0.002 * changes)
    assert after.value("leadstream_leads", stage="sql", temperature="hot") >= 1
    assert after.value("leadstream_table_keys", table="leads") >= 1
    assert after.value("leadstream_model_info", version="default-3", framework="bant") == 1
    # Faust's own sensor shares the endpoint.
    assert after.value("faust_messages_received_total") > before.value("faust_messages_received_total")


async def test_consumer_lag_is_reported_per_owned_partition_and_drains_to_zero(pipeline: RunningPipeline):
    await pipeline.send(identify("lagging", "lg-1", "lee@globex.com", 0))
    await pipeline.settled_accounting()
    for _ in range(40):  # the probe runs every second here (FAST_WORKER_ENV)
        current = await scrape(pipeline)
        lag = [s for s in current.samples if s.name == "leadstream_consumer_lag"]
        if len(lag) == 8 and all(s.value == 0 for s in lag):
            break
        await asyncio.sleep(0.5)
    topics = {s.labels["topic"] for s in lag}
    assert topics == {pipeline.topic("leads.events.raw"), pipeline.topic("leads.signals")}
    assert sorted(int(s.labels["partition"]) for s in lag) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(s.value == 0 for s in lag), [(s.labels, s.value) for s in lag]


async def test_metric_labels_never_carry_lead_ids_or_urls(pipeline: RunningPipeline):
    current = await scrape(pipeline)
    for sample in current.samples:
        if sample.name.startswith("leadstream_"):
            for value in sample.labels.values():
                assert "@" not in value and "://" not in value and value not in ("metered", "lagging"), sample


async def test_every_metric_the_dashboard_and_alert_rules_read_exists_in_a_live_worker_scrape(
    pipeline: RunningPipeline,
):
    references = [ref for ref in referenced_metrics().values() if ref.process == "worker"]
    assert len(references) >= 10, "the dashboard should read the worker's metrics"
    live = (await scrape(pipeline)).names()

    missing = {ref.name: ref.used_in for ref in references if not ref.sample_names & live}
    assert not missing, f"the monitoring config reads metrics no worker exports: {missing}"


async def test_every_alert_metric_the_monitoring_config_reads_exists_in_a_live_alerts_scrape(
    pipeline: RunningPipeline, tmp_path: Path,
):
    port = free_port()
    alerts = subprocess.Popen(
        [*leadstream_command(), "alerts", "--metrics-port", str(port)],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": pipeline.bootstrap, "LEADSTREAM_TOPIC_PREFIX": pipeline.prefix,
             "LEADSTREAM_APP_ID": f"alerts-{pipeline.prefix[:-1]}", "LEADSTREAM_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        text = None
        for _ in range(100):
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                        text = await response.text()
                if "leadstream_alerts_delivered_total" in text:
                    break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        assert text is not None, "leadstream alerts never served /metrics"
        live = Scrape(text).names()
        references = [ref for ref in referenced_metrics().values() if ref.process == "alerts"]
        assert references, "the dashboard should read the alert consumer's metrics"
        missing = {ref.name: ref.used_in for ref in references if not ref.sample_names & live}
        assert not missing, f"the monitoring config reads metrics leadstream alerts does not export: {missing}"
    finally:
        alerts.send_signal(signal.SIGTERM)
        assert alerts.wait(timeout=30) == 0, alerts.stdout.read().decode() if alerts.stdout else ""


# Last in the module: it stops the module's worker.
async def test_a_worker_that_probed_its_lag_shuts_down_without_leaving_a_client_open(pipeline: RunningPipeline):
    for _ in range(40):  # the probe's clients exist once it has run (every second here)
        if any(s.name == "leadstream_consumer_lag" for s in (await scrape(pipeline)).samples):
            break
        await asyncio.sleep(0.5)
    else:
        pytest.fail("the lag probe never ran")

    assert pipeline.worker.stop() == 0, pipeline.worker.log_tail()
    log = pipeline.worker.log_path.read_text(errors="replace")
    assert "Unclosed" not in log, log[max(log.index("Unclosed") - 2000, 0):]
