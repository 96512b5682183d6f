"""The CRM write-back's decisions without Kafka or HTTP: coalescing and offsets, batching, isolating a refused
record, backoff, which answers are retried, the fields a rep reads, and the settings it refuses."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from scoring import (
    Contribution,
    QualificationChange,
    Scores,
    Stage,
    Status,
    Temperature,
)
from scoring.changes import change_id
from streams.alerting.change import decode_change
from streams.config.environment import settings_from
from streams.contracts.change_records import encode_change
from streams.crm.coalesce import Coalescer
from streams.crm.errors import CrmConfigError
from streams.crm.fields import LeadState, cleared, state_of
from streams.crm.http import ApiCaller, Reply
from streams.crm.hubspot import properties
from streams.crm.options import CrmOptions, crm_options_from
from streams.crm.results import BatchRefused, RecordResult
from streams.crm.salesforce import fields as salesforce_fields
from streams.crm.writer import batches, write_states

T0 = 1_793_610_000.0


def change(lead: str = "dana@acme.io", grade: str | None = None, **overrides) -> bytes:
    built = QualificationChange(
        change_id=change_id(lead, "e1"), lead_id=lead, sequence=1, account="acme.io",
        from_stage=Stage.MQL, from_temperature=Temperature.WARM, to_stage=Stage.SQL, to_temperature=Temperature.HOT,
        scores=Scores(interest=19.2, intent=57.5, negative=0.0, fit=90.0),
        reasons=(Contribution("demo_request", 30.0, T0, 1), Contribution("pricing_view", 27.5, T0, 3),
                 Contribution("webinar_attended", 19.2, T0, 1), Contribution("email_open", 2.0, T0, 4)),
        fit_reasons=(), framework="bant", criteria={"budget": Status.MET}, disqualified_by=(),
        model_version="2026.11", cause_event_id="e1", event_time=T0, **overrides)
    document = orjson.loads(encode_change(built, T0 + 1, T0))
    if grade:
        document["grade"] = grade
    return orjson.dumps(document)


def state(lead: str, score: float = 1.0) -> LeadState:
    return LeadState(lead, {"score": score}, {"lead_id": lead})


def options(**values) -> CrmOptions:
    defaults = dict(crm="hubspot", bootstrap="k:9092", topic="leads.qualification", group_id="g",
                    base_url="https://api.hubapi.com", token="pat-secret-token", dead_letter_path=Path("d.jsonl"))
    return CrmOptions(**{**defaults, **values})


# --- fields -------------------------------------------------------------------------------

def test_a_change_becomes_absolute_values_a_rep_reads_with_the_top_three_reasons_in_words():
    values = state_of(decode_change(change())).values

    assert values == {"score": 76.7, "stage": "sql", "temperature": "hot", "model_version": "2026.11",
                      "top_reasons": "demo request (30 pts); pricing view ×3 (27.5 pts); webinar attended (19.2 pts)",
                      "last_change_at": "2026-11-02T09:00:00.000Z"}


def test_the_grade_is_written_when_the_change_carries_one_and_left_alone_otherwise():
    assert state_of(decode_change(change(grade="A1"))).values["grade"] == "A1"
    assert "grade" not in state_of(decode_change(change())).values
    assert "leadstream_grade" not in properties(state_of(decode_change(change())))


def test_a_clear_blanks_every_field_in_hubspot_and_nulls_it_in_salesforce():
    notice = cleared("dana@acme.io", {"kind": "lead_erased", "lead_id": "dana@acme.io"})

    assert set(properties(notice).values()) == {""} and len(properties(notice)) == 7
    assert set(salesforce_fields(notice).values()) == {None} and len(salesforce_fields(notice)) == 7


def test_hubspot_gets_strings_and_salesforce_typed_values():
    written = state_of(decode_change(change(grade="C3")))

    assert properties(written)["leadstream_score"] == "76.7" and properties(written)["leadstream_grade"] == "C3"
    assert salesforce_fields(written)["Leadstream_Score__c"] == 76.7


# --- coalescing and offsets --------------------------------------------------------------

def test_a_burst_for_one_lead_within_the_window_is_one_write_of_its_latest_state():
    coalescer = Coalescer(window_s=5.0)
    for offset in range(10):
        coalescer.add(state("a", score=offset), partition=0, offset=offset, now=100.0 + offset * 0.1)

    assert coalescer.due(now=104.9) == []
    [due] = coalescer.due(now=105.0)
    assert due.state.values == {"score": 9} and due.absorbed == 10 and due.held == {0: 0}


def test_offsets_are_held_back_until_the_write_that_covers_them_is_done():
    coalescer = Coalescer(window_s=1.0)
    coalescer.add(state("a"), 0, 10, now=0.0)
    coalescer.read(0, 11)  # unreadable: done at once, but behind a's waiting write
    coalescer.add(state("b"), 1, 5, now=0.5)
    coalescer.read(1, 6)
    assert coalescer.committable() == {}  # each partition's first record waits for its write

    assert [due.state.lead_id for due in coalescer.due(now=1.0)] == ["a"]
    assert coalescer.committable() == {}  # a is in flight: partition 0 stays at 10, nothing new to say
    coalescer.done("a")
    assert coalescer.committable() == {0: 12}
    [due_b] = coalescer.due(now=1.5)
    coalescer.done(due_b.state.lead_id)
    assert coalescer.committable() == {0: 12, 1: 7}


def test_a_state_arriving_during_a_write_waits_a_whole_window_so_writes_are_a_window_apart():
    coalescer = Coalescer(window_s=2.0)
    coalescer.add(state("a", 1), 0, 0, now=0.0)
    assert len(coalescer.due(now=2.0)) == 1
    coalescer.add(state("a", 2), 0, 1, now=2.1)  # while the first write is in flight
    coalescer.done("a")

    assert coalescer.due(now=4.0) == []
    [second] = coalescer.due(now=4.2)
    assert second.state.values == {"score": 2}
    assert coalescer.next_due_in(now=4.2) is None


def test_a_write_given_back_after_a_stop_keeps_the_newer_state_and_the_oldest_offset():
    coalescer = Coalescer(window_s=1.0)
    coalescer.add(state("a", 1), 0, 3, now=0.0)
    [due] = coalescer.due(now=1.0)
    coalescer.add(state("a", 2), 0, 8, now=1.2)
    coalescer.give_back(due, now=1.3)

    assert coalescer.committable() == {}  # offset 3 is not written yet
    [again] = coalescer.due(now=2.2)
    assert again.state.values == {"score": 2} and again.held == {0: 3}


# --- batching and isolating a refused record ---------------------------------------------

def test_batches_keep_upserts_and_clears_apart_and_never_exceed_the_limit():
    states = [state(f"l{n}") for n in range(250)] + [cleared(f"e{n}", {}) for n in range(3)]

    sizes = [(len(batch), batch[0].clears) for batch in batches(states, 100)]

    assert sizes == [(100, False), (100, False), (50, False), (3, True)]


class RefusingClient:
    """A CRM client in memory: refuses any batch holding a poisoned lead, as HubSpot's 400 does for the lot."""

    name, batch_size = "test", 100

    def __init__(self, poisoned: set[str]) -> None:
        self.poisoned, self.requests = poisoned, []

    async def write(self, states):
        self.requests.append([s.lead_id for s in states])
        if self.poisoned & {s.lead_id for s in states}:
            raise BatchRefused(400, "VALIDATION_ERROR", "Property values were not valid")
        return [RecordResult(s.lead_id, True) for s in states]


async def test_a_refused_batch_is_split_until_the_refused_record_stands_alone_and_the_rest_are_written():
    client = RefusingClient({"l37"})

    results = await write_states(client, [state(f"l{n}") for n in range(64)])

    failed = [result for result in results if not result.ok]
    assert [(r.lead_id, r.code, r.reason) for r in failed] == [("l37", "VALIDATION_ERROR",
                                                                "Property values were not valid")]
    assert sorted(r.lead_id for r in results if r.ok) == sorted(f"l{n}" for n in range(64) if n != 37)
    assert len(client.requests) <= 2 * 7 + 1  # a binary search, not one request per record


# --- retries -----------------------------------------------------------------------------

def test_429_5xx_and_salesforces_spent_daily_allocation_are_retried_and_other_answers_are_final():
    caller = ApiCaller(options())

    assert caller._transient(Reply(429, None)) == "rate_limited"
    assert caller._transient(Reply(503, None)) == "server_error"
    assert caller._transient(Reply(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "x"}])) == "rate_limited"
    for final in (Reply(200, {}), Reply(207, {}), Reply(400, {}), Reply(401, {}), Reply(403, {}), Reply(404, [])):
        assert caller._transient(final) is None, final


def test_backoff_doubles_up_to_its_bound_and_retry_after_is_honoured_up_to_its_own():
    caller = ApiCaller(options(backoff_base_s=0.5, max_backoff_s=4.0, max_retry_after_s=30.0))

    assert [caller._pause_s(attempt, None) for attempt in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert caller._pause_s(1, 10.0) == 10.0 and caller._pause_s(1, 600.0) == 30.0


def test_the_pacer_never_lets_more_than_the_limit_through_in_any_ten_seconds():
    caller = ApiCaller(options(requests_per_10s=100))
    now = [0.0]
    caller._pacer.clock = lambda: now[0]
    sent = []
    while now[0] < 60.0:
        if caller._pacer.take("hubspot") == 0:
            sent.append(now[0])
        now[0] += 0.01

    assert max(sum(1 for at in sent if start <= at < start + 10.0) for start in sent) <= 100
    assert len(sent) >= 500  # and it does not starve: 90 % of the rate over a minute


# --- settings ----------------------------------------------------------------------------

def environment(**variables: str) -> dict[str, str]:
    return {"LEADSTREAM_CRM": "hubspot", "LEADSTREAM_CRM_TOKEN": "pat-secret-token", **variables}


def test_the_token_comes_from_a_file_and_never_shows_in_a_repr(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text("pat-from-file\n")
    env = {"LEADSTREAM_CRM": "hubspot", "LEADSTREAM_CRM_TOKEN_FILE": str(token_file)}

    built = crm_options_from(settings_from({}), env)

    assert built.token == "pat-from-file" and "pat-from-file" not in repr(built)
    assert built.group_id == "leadstream-crm" and built.batch_size == 100 and built.base_url == "https://api.hubapi.com"


@pytest.mark.parametrize(("variables", "named"), [
    ({"LEADSTREAM_CRM": "pipedrive"}, "LEADSTREAM_CRM:"),
    ({"LEADSTREAM_CRM_TOKEN": ""}, "LEADSTREAM_CRM_TOKEN:"),
    ({"LEADSTREAM_CRM_TOKEN_FILE": "/nonexistent/token"}, "LEADSTREAM_CRM_TOKEN, LEADSTREAM_CRM_TOKEN_FILE"),
    ({"LEADSTREAM_CRM_BATCH_SIZE": "101"}, "LEADSTREAM_CRM_BATCH_SIZE: hubspot takes 1 to 100"),
    ({"LEADSTREAM_CRM": "salesforce", "LEADSTREAM_CRM_URL": "https://x.my.salesforce.com"},
     "LEADSTREAM_CRM_EXTERNAL_ID_FIELD"),
    ({"LEADSTREAM_CRM": "salesforce"}, "LEADSTREAM_CRM_URL"),
    ({"LEADSTREAM_CRM_WINDOW_SECONDS": "soon"}, "LEADSTREAM_CRM_WINDOW_SECONDS"),
])
def test_each_bad_setting_is_refused_naming_its_variable_and_never_the_token(variables, named):
    with pytest.raises(CrmConfigError, match=named) as refused:
        crm_options_from(settings_from({}), environment(**variables))
    assert "pat-secret-token" not in str(refused.value)
