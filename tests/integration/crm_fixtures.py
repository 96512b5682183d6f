"""Changes, options and a runner for the `leadstream crm` tests, on the alerts tests' real topic helpers.

Each lead's changes are the scoring core's ``QualificationChange`` objects written with the
worker's codec (tests/integration/alert_fixtures.py). They carry no grade, as a change from before
grades is re-sent, so the CRM must leave its grade field alone; ``with_grade`` gives one a grade.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from msgspec.structs import replace

from scoring import Contribution, QualificationChange, Scores
from streams.config.environment import settings_from
from streams.crm import CrmOptions, CrmStats, crm_options_from, run_crm
from streams.crm.options import HUBSPOT
from tests.integration.alert_fixtures import (
    T0,
    QualificationTopic,
    encoded,
    qualification_change,
    run_until_committed,
)
from tests.integration.crm_stand_ins import TOKEN

STEPS = (("new", "cold"), ("iql", "cold"), ("mql", "warm"), ("sql", "hot"))


def step(lead: str, n: int) -> QualificationChange:
    """The lead's n-th change (1-based): a stage further up the funnel, a higher score, more pricing views."""
    from_, to = STEPS[(n - 1) % 3], STEPS[(n - 1) % 3 + 1]
    change = qualification_change(lead, f"{lead}-event-{n}", from_, to, sequence=n, grade=None,
                                  reasons=(Contribution("pricing_view", 10.0 * n, T0 - 60, n),
                                           Contribution("demo_request", 30.0, T0 - 600, 1)))
    return replace(change, scores=Scores(interest=5.0 * n, intent=10.0 * n + 0.5, negative=0.0, fit=80.0),
                               event_time=T0 + 60 * n)


def with_grade(change: QualificationChange, grade: str) -> bytes:
    return encoded(replace(change, grade=grade))


def erasure_notice(lead: str) -> bytes:
    return orjson.dumps({"kind": "lead_erased", "change_id": "e" * 32, "lead_id": lead,
                         "erased_at": "2026-11-02T10:00:00.000Z"})


def hubspot_fields(change: QualificationChange, grade: str | None = None) -> dict[str, str]:
    """What a rep should see on the HubSpot contact after ``change``: written out by hand, not by the code under test."""
    total = change.scores.interest + change.scores.intent - change.scores.negative
    first, second = change.reasons[0], change.reasons[1]
    fields = {
        "leadstream_score": f"{round(total, 1):g}",
        "leadstream_stage": change.to_stage.value,
        "leadstream_temperature": change.to_temperature.value,
        "leadstream_top_reasons": f"pricing view{f' ×{first.count}' if first.count > 1 else ''}"
                                  f" ({first.points_now:g} pts);"
                                  f" demo request ({second.points_now:g} pts)",
        "leadstream_model_version": "2026.11-test",
        "leadstream_last_change_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(change.event_time)),
    }
    if grade:
        fields["leadstream_grade"] = grade
    return fields


def options_for(topic: QualificationTopic, data_dir: Path, url: str, crm: str = HUBSPOT, **values: Any) -> CrmOptions:
    """Options as `leadstream crm` builds them from its environment, on the test's topic and stand-in."""
    settings = settings_from({
        "KAFKA_BOOTSTRAP_SERVERS": topic.bootstrap,
        "LEADSTREAM_TOPIC_PREFIX": topic.prefix,
        "LEADSTREAM_APP_ID": f"leadstream-{topic.prefix[:-1]}",
        "LEADSTREAM_DATA_DIR": str(data_dir),
    })
    return crm_options_from(settings, crm_environment(crm, url), **values)


def crm_environment(crm: str, url: str, token: str = TOKEN) -> dict[str, str]:
    env = {"LEADSTREAM_CRM": crm, "LEADSTREAM_CRM_URL": url, "LEADSTREAM_CRM_TOKEN": token,
           "LEADSTREAM_CRM_WINDOW_SECONDS": "0.5"}
    if crm != HUBSPOT:
        env["LEADSTREAM_CRM_EXTERNAL_ID_FIELD"] = "Leadstream_Lead_Id__c"
    return env


async def run_until_caught_up(options: CrmOptions, topic: QualificationTopic, timeout: float = 60.0) -> CrmStats:
    """Runs `leadstream crm`'s consumer until its group has committed every record sent so far, then stops it."""
    return await run_until_committed(lambda stop: run_crm(options, stop), options.group_id, topic, timeout)
