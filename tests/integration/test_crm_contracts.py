"""`leadstream crm setup` and the batch limits, against the HubSpot and Salesforce contract stand-ins (no Kafka).

The stand-ins refuse an oversized batch with the documented error; leadstream never sends one,
and if an API ever lowers its limit the refused batch is split until it fits.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import aiohttp
import orjson
import pytest_asyncio

from streams.config.environment import settings_from
from streams.crm.consumer import client_for
from streams.crm.fields import LeadState
from streams.crm.options import crm_options_from
from streams.crm.writer import write_states
from streams.failures import EXIT_FAILED
from tests.e2e.cli import leadstream_command
from tests.integration.crm_fixtures import crm_environment
from tests.integration.crm_stand_ins import TOKEN, HubSpotStandIn, SalesforceStandIn

LEADSTREAM_PROPERTIES = {"leadstream_score", "leadstream_stage", "leadstream_temperature", "leadstream_grade",
                         "leadstream_top_reasons", "leadstream_model_version", "leadstream_last_change_at"}


@pytest_asyncio.fixture(loop_scope="session")
async def hubspot():
    stand_in = HubSpotStandIn()
    await stand_in.start()
    yield stand_in
    await stand_in.close()


@pytest_asyncio.fixture(loop_scope="session")
async def salesforce():
    stand_in = SalesforceStandIn(fields=("Leadstream_Score__c",))
    await stand_in.start()
    yield stand_in
    await stand_in.close()


async def post(url: str, body: object, method: str = "POST") -> tuple[int, object]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, data=orjson.dumps(body),
                                   headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
            return answer.status, orjson.loads(await answer.read())


async def test_the_stand_ins_refuse_an_oversized_batch_with_the_documented_error(
    hubspot: HubSpotStandIn, salesforce: SalesforceStandIn,
):
    inputs = [{"idProperty": "email", "id": f"u{n}@x.io", "properties": {}} for n in range(101)]
    status, body = await post(hubspot.url + "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs})
    assert status == 400 and body["category"] == "VALIDATION_ERROR" and hubspot.contacts == {}

    records = [{"attributes": {"type": "Lead"}, "Leadstream_Lead_Id__c": f"u{n}"} for n in range(201)]
    status, body = await post(salesforce.url + "/services/data/v62.0/composite/sobjects/Lead/Leadstream_Lead_Id__c",
                              {"allOrNone": False, "records": records}, "PATCH")
    assert status == 400 and body[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


async def test_a_batch_the_api_refuses_as_too_large_is_split_until_it_fits_and_every_record_is_written(
    hubspot: HubSpotStandIn, tmp_path: Path,
):
    hubspot.groups.add("leadstream")
    hubspot.properties["leadstream_score"] = {"name": "leadstream_score"}
    options = crm_options_from(settings_from({"LEADSTREAM_DATA_DIR": str(tmp_path)}),
                               crm_environment("hubspot", hubspot.url))
    client = client_for(options, asyncio.Event())
    client.batch_size = 150  # as if HubSpot had lowered its limit below what leadstream believes
    await client.start()
    try:
        results = await write_states(client, [LeadState(f"u{n}@x.io", {"score": n}, {}) for n in range(150)])
    finally:
        await client.close()

    assert all(result.ok for result in results) and len(results) == 150
    assert [seen.status for seen in hubspot.requests] == [400, 200, 200]
    assert hubspot.contacts["u149@x.io"]["leadstream_score"] == "149"


async def test_crm_setup_creates_the_group_and_the_missing_hubspot_properties_once(
    hubspot: HubSpotStandIn, tmp_path: Path,
):
    hubspot.groups.add("sales")
    env = {**os.environ, **crm_environment("hubspot", hubspot.url), "LEADSTREAM_DATA_DIR": str(tmp_path)}

    first = await _run(env, "crm", "setup")
    second = await _run(env, "crm", "setup")

    assert first[0] == 0 and second[0] == 0, first[1] + second[1]
    assert hubspot.groups == {"sales", "leadstream"}
    assert LEADSTREAM_PROPERTIES <= set(hubspot.properties)
    created = {name: hubspot.properties[name] for name in LEADSTREAM_PROPERTIES}
    assert {prop["groupName"] for prop in created.values()} == {"leadstream"}
    assert [option["value"] for option in created["leadstream_grade"]["options"]] == [
        "A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3"]
    assert created["leadstream_last_change_at"]["type"] == "datetime"
    assert first[1].count("created property") == 7 and second[1].count("already exists") == 7
    assert sum(1 for seen in hubspot.requests if seen.method == "POST") == 8  # nothing created twice


async def test_crm_setup_for_salesforce_lists_the_fields_to_create_and_fails_until_they_exist(
    salesforce: SalesforceStandIn, tmp_path: Path,
):
    env = {**os.environ, **crm_environment("salesforce", salesforce.url), "LEADSTREAM_DATA_DIR": str(tmp_path)}

    status, said = await _run(env, "crm", "setup")

    assert status == EXIT_FAILED, said
    assert "present: Leadstream_Score__c" in said and "missing: Leadstream_Grade__c (Text(2)) on Lead" in said
    assert "missing: Leadstream_Lead_Id__c" not in said  # the external id exists, marked External ID


async def _run(env: dict[str, str], *arguments: str) -> tuple[int, str]:
    """Runs leadstream without blocking the loop the stand-in answers on."""
    process = await asyncio.create_subprocess_exec(*leadstream_command(), *arguments, env=env,
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, output.decode()
