"""`leadstream crm` on real Kafka against contract stand-ins of HubSpot and Salesforce (crm_stand_ins.py).

Every lead's CRM fields end equal to its latest state; a burst is one write per lead; batches
stay within each API's documented limit; a refused record is dead-lettered with the API's reason
while the rest go through; 429, 5xx, a restart and an expired token lose nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from streams.alerting.dead_letter import read_dead_letters
from streams.crm import run_crm
from streams.crm.errors import SimulatedCrash, TokenRejected
from streams.crm.options import SALESFORCE
from streams.devtools.brokers import free_port
from streams.failures import EXIT_REFUSED
from tests.e2e.cli import leadstream_command
from tests.integration.alert_fixtures import (
    QualificationTopic,
    committed_offsets,
    metric,
    topic,
)
from tests.integration.crm_fixtures import (
    crm_environment,
    erasure_notice,
    hubspot_fields,
    options_for,
    run_until_caught_up,
    step,
    with_grade,
)
from tests.integration.crm_stand_ins import HubSpotStandIn, SalesforceStandIn, Scripted
from tests.monitoring_refs import referenced_metrics

kafka = pytest.mark.kafka


@pytest_asyncio.fixture(loop_scope="session")
async def hubspot():
    stand_in = HubSpotStandIn()
    stand_in.groups.add("leadstream")
    for name in hubspot_fields(step("x@y.z", 2), grade="A1"):
        stand_in.properties[name] = {"name": name}
    await stand_in.start()
    yield stand_in
    await stand_in.close()


@pytest_asyncio.fixture(loop_scope="session")
async def salesforce():
    stand_in = SalesforceStandIn(fields=(
        "Leadstream_Score__c", "Leadstream_Stage__c", "Leadstream_Temperature__c", "Leadstream_Grade__c",
        "Leadstream_Top_Reasons__c", "Leadstream_Model_Version__c", "Leadstream_Last_Change_At__c"))
    await stand_in.start()
    yield stand_in
    await stand_in.close()


@kafka
async def test_a_burst_of_changes_ends_as_each_leads_latest_state_in_one_write_each_within_hubspots_batch_limit(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    leads = [f"rep{n:03d}@acme.io" for n in range(150)]
    for n in (1, 2, 3):  # three changes per lead, all read within one window
        for lead in leads:
            await topic.send(step(lead, n))
    graded = "graded@acme.io"
    await topic.send(step(graded, 1))
    await topic.send(with_grade(step(graded, 2), "B2"), key=graded)
    hubspot.invalid_emails.add("broken@acme")
    await topic.send(step("broken@acme", 2))
    await topic.send(step("visitor-7f3a", 2))  # an anonymous visitor: HubSpot matches by e-mail, it has none
    options = options_for(topic, tmp_path, hubspot.url, window_s=3.0)
    coalesced_before = metric("leadstream_crm_changes_coalesced_total", crm="hubspot")

    stats = await run_until_caught_up(options, topic)

    for lead in leads:
        assert hubspot.contacts[lead] == {"email": lead, **hubspot_fields(step(lead, 3))}, lead
        assert len(hubspot.writes_of(lead)) == 1, f"{lead} written {len(hubspot.writes_of(lead))} times"
    assert hubspot.contacts[graded] == {"email": graded, **hubspot_fields(step(graded, 2), grade="B2")}
    assert "broken@acme" not in hubspot.contacts and "visitor-7f3a" not in hubspot.contacts
    writes = [seen for seen in hubspot.requests if seen.path.endswith("/batch/upsert")]
    assert max(seen.records for seen in writes) <= 100 and sum(seen.records for seen in writes) >= 152
    [letter] = read_dead_letters(options.dead_letter_path)
    assert (letter["lead_id"], letter["code"], letter["status"]) == ("broken@acme", "VALIDATION_ERROR", 207)
    assert "not a valid email address" in letter["reason"] and letter["change"]["lead_id"] == "broken@acme"
    assert (stats.written, stats.dead_lettered, stats.skipped) == (151, 1, 1)
    assert stats.read == stats.coalesced + stats.skipped + stats.written + stats.dead_lettered
    assert metric("leadstream_crm_changes_coalesced_total", crm="hubspot") - coalesced_before == 301


@kafka
async def test_a_lead_changing_all_the_time_is_written_at_most_once_per_window_and_ends_at_its_latest_state(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    window = 0.6
    options = options_for(topic, tmp_path, hubspot.url, window_s=window)
    stop = asyncio.Event()
    run = asyncio.create_task(run_crm(options, stop))
    try:
        await topic.send(step("busy@acme.io", 1))
        deadline = time.monotonic() + 30
        while not hubspot.writes_of("busy@acme.io"):  # the consumer has joined its group and written once
            assert time.monotonic() < deadline and not run.done(), "the consumer never wrote the first change"
            await asyncio.sleep(0.05)
        for n in range(2, 13):  # then a change every 0.2 s for two seconds
            await topic.send(step("busy@acme.io", n))
            await asyncio.sleep(0.2)
    finally:
        deadline = time.monotonic() + 30
        while await committed_offsets(options.bootstrap, options.group_id, topic.name) != topic.end_offsets:
            assert time.monotonic() < deadline and not run.done(), "the consumer never caught up"
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(run, 30)

    writes = hubspot.writes_of("busy@acme.io")
    assert 2 <= len(writes) < 12  # coalesced, yet written while it kept changing
    assert all(later.at - earlier.at >= window for earlier, later in zip(writes, writes[1:]))
    assert hubspot.contacts["busy@acme.io"]["leadstream_stage"] == step("busy@acme.io", 12).to_stage.value
    assert hubspot.contacts["busy@acme.io"] == {"email": "busy@acme.io", **hubspot_fields(step("busy@acme.io", 12))}


@kafka
async def test_a_429_with_retry_after_and_a_500_are_waited_out_and_retried_and_nothing_is_dead_lettered(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    hubspot.answer_next(
        Scripted(429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                       "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}, {"Retry-After": "1"}),
        Scripted(502, {"status": "error", "message": "Bad gateway"}),
    )
    for lead in ("ana@acme.io", "ben@acme.io"):
        await topic.send(step(lead, 2))
    options = options_for(topic, tmp_path, hubspot.url, window_s=0.1, backoff_base_s=0.05)
    limited_before = metric("leadstream_crm_failed_attempts_total", crm="hubspot", reason="rate_limited")
    server_before = metric("leadstream_crm_failed_attempts_total", crm="hubspot", reason="server_error")

    stats = await run_until_caught_up(options, topic)

    statuses = [seen.status for seen in hubspot.requests if seen.path.endswith("/batch/upsert")][-3:]
    assert statuses == [429, 502, 200]
    limited, failed, _ = [seen for seen in hubspot.requests if seen.path.endswith("/batch/upsert")][-3:]
    assert failed.at - limited.at >= 1.0  # Retry-After: 1 was honoured, not the 0.05 s backoff
    assert stats.written == 2 and stats.dead_lettered == 0
    assert read_dead_letters(options.dead_letter_path) == []
    for lead in ("ana@acme.io", "ben@acme.io"):
        assert hubspot.contacts[lead] == {"email": lead, **hubspot_fields(step(lead, 2))}
    assert metric("leadstream_crm_failed_attempts_total", crm="hubspot", reason="rate_limited") - limited_before == 1
    assert metric("leadstream_crm_failed_attempts_total", crm="hubspot", reason="server_error") - server_before == 1


@kafka
async def test_a_consumer_that_dies_after_writing_before_committing_rewrites_the_same_values_and_loses_nothing(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    for lead in ("cy@acme.io", "di@acme.io"):
        await topic.send(step(lead, 1))
        await topic.send(step(lead, 2))
    options = options_for(topic, tmp_path, hubspot.url, window_s=0.1)

    with pytest.raises(SimulatedCrash):
        await run_crm(dataclasses.replace(options, crash_after_write=True))
    assert await committed_offsets(options.bootstrap, options.group_id, topic.name) == {}
    first = {lead: dict(hubspot.contacts[lead]) for lead in ("cy@acme.io", "di@acme.io")}

    await topic.send(step("di@acme.io", 3))  # arrives while the consumer is down
    await run_until_caught_up(options, topic)

    assert hubspot.contacts["cy@acme.io"] == first["cy@acme.io"]  # written again, the same values
    assert hubspot.contacts["di@acme.io"] == {"email": "di@acme.io", **hubspot_fields(step("di@acme.io", 3))}


@kafka
async def test_an_erased_lead_has_leadstreams_properties_cleared_and_its_dead_letters_removed(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    hubspot.invalid_emails.add("gone@acme.io")
    await topic.send(step("eve@acme.io", 2))
    await topic.send(step("gone@acme.io", 2))
    options = options_for(topic, tmp_path, hubspot.url, window_s=0.1)
    await run_until_caught_up(options, topic)
    assert hubspot.contacts["eve@acme.io"]["leadstream_stage"] == "mql"
    assert [letter["lead_id"] for letter in read_dead_letters(options.dead_letter_path)] == ["gone@acme.io"]
    hubspot.invalid_emails.discard("gone@acme.io")

    await topic.send(erasure_notice("eve@acme.io"), key="eve@acme.io")
    await topic.send(erasure_notice("gone@acme.io"), key="gone@acme.io")  # HubSpot never held it
    stats = await run_until_caught_up(options, topic)

    assert hubspot.contacts["eve@acme.io"] == {"email": "eve@acme.io",
                                               **{name: "" for name in hubspot_fields(step("x", 2), "A1")}}
    assert "gone@acme.io" not in hubspot.contacts  # a clear never creates a contact
    assert read_dead_letters(options.dead_letter_path) == []
    assert stats.cleared == 2 and stats.dead_lettered == 0


@kafka
async def test_an_expired_hubspot_token_stops_the_consumer_with_a_clear_error_and_commits_nothing(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    await topic.send(step("fay@acme.io", 2))
    options = options_for(topic, tmp_path, hubspot.url, window_s=0.1)
    hubspot.token_expired = True
    try:
        with pytest.raises(TokenRejected, match="expired or was revoked.*LEADSTREAM_CRM_TOKEN"):
            await run_crm(options)
    finally:
        hubspot.token_expired = False
    assert await committed_offsets(options.bootstrap, options.group_id, topic.name) == {}
    assert [seen.status for seen in hubspot.requests][-1:] == [401]  # asked once, not in a loop
    assert read_dead_letters(options.dead_letter_path) == []


@kafka
async def test_leadstream_crm_as_a_process_exits_with_the_refused_setting_status_on_an_expired_token_then_resumes_serving_every_dashboard_metric(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    await topic.send(step("gil@acme.io", 2))
    await topic.send(step("hal@acme.io", 3))
    env = {**os.environ, **crm_environment("hubspot", hubspot.url), "KAFKA_BOOTSTRAP_SERVERS": topic.bootstrap,
           "LEADSTREAM_TOPIC_PREFIX": topic.prefix, "LEADSTREAM_APP_ID": f"leadstream-{topic.prefix[:-1]}",
           "LEADSTREAM_DATA_DIR": str(tmp_path)}
    hubspot.token_expired = True
    try:
        # Asynchronously: the stand-in answers on this test's event loop.
        refused = await asyncio.create_subprocess_exec(*leadstream_command(), "crm", env=env,
                                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, _ = await asyncio.wait_for(refused.communicate(), 60)
    finally:
        hubspot.token_expired = False
    said = output.decode()
    assert refused.returncode == EXIT_REFUSED, said
    assert "hubspot refused the token" in said and "LEADSTREAM_CRM_TOKEN" in said
    assert env["LEADSTREAM_CRM_TOKEN"] not in said and "Traceback" not in said

    port = free_port()
    process = await asyncio.create_subprocess_exec(*leadstream_command(), "crm", "--port", str(port), env=env,
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while await committed_offsets(topic.bootstrap, f"leadstream-{topic.prefix[:-1]}-crm", topic.name) \
                != topic.end_offsets:
            assert process.returncode is None and time.monotonic() < deadline, "leadstream crm never caught up"
            await asyncio.sleep(0.2)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                families = list(text_string_to_metric_families(await response.text()))
        live = {family.name for family in families} | {sample.name for family in families for sample in family.samples}
        references = [ref for ref in referenced_metrics().values() if ref.process == "crm"]
        assert len(references) >= 6, "the dashboard should read the CRM consumer's metrics"
        missing = {ref.name: ref.used_in for ref in references if not ref.sample_names & live}
        assert not missing, f"the dashboard reads metrics leadstream crm does not export: {missing}"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, output.decode()
    assert hubspot.contacts["hal@acme.io"] == {"email": "hal@acme.io", **hubspot_fields(step("hal@acme.io", 3))}


@kafka
async def test_salesforce_leads_are_upserted_in_collections_of_200_by_external_id_and_refused_ones_dead_lettered(
    topic: QualificationTopic, salesforce: SalesforceStandIn, tmp_path: Path,
):
    leads = [f"sf{n:03d}@initech.com" for n in range(250)]
    salesforce.holds(*leads, "erased@initech.com")
    salesforce.rejected.add("sf007@initech.com")
    for lead in leads:
        await topic.send(step(lead, 1))
        await topic.send(step(lead, 3))
    await topic.send(step("unknown@initech.com", 2))  # not in Salesforce: a new Lead would need LastName, Company
    await topic.send(step("erased@initech.com", 2))
    salesforce.answer_next(Scripted(503, [{"message": "Service Unavailable", "errorCode": "SERVER_UNAVAILABLE"}]))
    options = options_for(topic, tmp_path, salesforce.url, crm=SALESFORCE, window_s=2.0, backoff_base_s=0.05)

    stats = await run_until_caught_up(options, topic)

    for lead in leads:
        if lead == "sf007@initech.com":
            continue
        record = salesforce.leads[lead]
        assert (record["Leadstream_Stage__c"], record["Leadstream_Temperature__c"]) == ("sql", "hot")
        assert record["Leadstream_Score__c"] == 45.5 and record["LastName"] == "Doe"  # sales' own fields kept
        assert record["Leadstream_Last_Change_At__c"] == "2026-11-02T09:03:00.000Z"
        assert len(salesforce.writes_of(lead)) == 1
    assert "Leadstream_Stage__c" not in salesforce.leads["sf007@initech.com"]
    assert "unknown@initech.com" not in salesforce.leads
    sizes = [seen.records for seen in salesforce.requests if seen.method == "PATCH"]
    assert max(sizes) <= 200 and [seen.status for seen in salesforce.requests][0] == 503
    letters = {letter["lead_id"]: letter for letter in read_dead_letters(options.dead_letter_path)}
    assert set(letters) == {"sf007@initech.com", "unknown@initech.com"}
    assert letters["sf007@initech.com"]["code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert letters["unknown@initech.com"]["reason"] == "Required fields are missing: [LastName, Company]"
    assert stats.written == 250 and stats.dead_lettered == 2

    await topic.send(erasure_notice("erased@initech.com"), key="erased@initech.com")
    await topic.send(erasure_notice("unknown@initech.com"), key="unknown@initech.com")
    cleared = await run_until_caught_up(options, topic)

    erased = salesforce.leads["erased@initech.com"]
    assert all(erased[name] is None for name in erased if name.startswith("Leadstream_") and name != "Leadstream_Lead_Id__c")
    assert "unknown@initech.com" not in salesforce.leads  # a clear never creates a Lead
    assert set(letter["lead_id"] for letter in read_dead_letters(options.dead_letter_path)) == {"sf007@initech.com"}
    assert cleared.cleared == 2


@kafka
async def test_a_stop_while_leads_wait_for_their_window_or_a_retry_commits_nothing_and_the_next_run_writes_them(
    topic: QualificationTopic, hubspot: HubSpotStandIn, tmp_path: Path,
):
    await topic.send(step("ivy@acme.io", 2))
    await topic.send(step("jo@acme.io", 3))
    options = options_for(topic, tmp_path, hubspot.url)

    stop = asyncio.Event()
    waiting = asyncio.create_task(run_crm(dataclasses.replace(options, window_s=300.0), stop))
    deadline = time.monotonic() + 30
    while metric("leadstream_crm_leads_waiting") < 2:  # both read, both waiting out a five-minute window
        assert time.monotonic() < deadline and not waiting.done(), "the consumer never read the changes"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(waiting, 30)
    assert await committed_offsets(options.bootstrap, options.group_id, topic.name) == {}

    hubspot.answer_next(*[Scripted(503, {"status": "error", "message": "unavailable"})] * 50)
    stop = asyncio.Event()
    retrying = asyncio.create_task(run_crm(dataclasses.replace(options, window_s=0.1, backoff_base_s=30.0), stop))
    deadline = time.monotonic() + 30
    while not any(seen.status == 503 for seen in hubspot.requests):
        assert time.monotonic() < deadline and not retrying.done(), "the consumer never tried to write"
        await asyncio.sleep(0.05)
    stop.set()  # it is waiting 30 s before its second attempt
    await asyncio.wait_for(retrying, 30)
    assert await committed_offsets(options.bootstrap, options.group_id, topic.name) == {}
    assert hubspot.contacts == {}

    hubspot.script.clear()
    await run_until_caught_up(dataclasses.replace(options, window_s=0.1), topic)

    assert hubspot.contacts["ivy@acme.io"] == {"email": "ivy@acme.io", **hubspot_fields(step("ivy@acme.io", 2))}
    assert hubspot.contacts["jo@acme.io"] == {"email": "jo@acme.io", **hubspot_fields(step("jo@acme.io", 3))}


@kafka
async def test_an_expired_salesforce_session_stops_the_consumer_naming_the_token(
    topic: QualificationTopic, salesforce: SalesforceStandIn, tmp_path: Path,
):
    salesforce.holds("kim@initech.com")
    await topic.send(step("kim@initech.com", 2))
    salesforce.token_expired = True
    options = options_for(topic, tmp_path, salesforce.url, crm=SALESFORCE, window_s=0.1)

    with pytest.raises(TokenRejected, match="salesforce refused the token.*INVALID_SESSION_ID"):
        await run_crm(options)

    assert await committed_offsets(options.bootstrap, options.group_id, topic.name) == {}
    assert len(salesforce.requests) == 1
