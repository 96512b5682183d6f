"""A lead's journal and stage history survive its table record, so a worker that reads the lead back
(another batch, a restart, a rebalance) still places a late event exactly."""

from __future__ import annotations


import orjson
import pytest
from msgspec.structs import replace

from scoring import Verdict, apply
from scoring.arrival import HALF, apply_feedback, apply_outcome
from scoring.kinds import DealOutcome
from streams.contracts import lead_records
from tests.unit.builders import ICP_FIT, T0, days, model, signal
from tests.unit.format_4 import format_4_record


def long_lead():
    """More inputs than half the journal, sales feedback and a CRM outcome among them, one event late."""
    state = apply(None, signal(None, T0, event_id="who", profile={"email": "ada@acme.com", **ICP_FIT}), model()).state
    for n in range(1, HALF + 4):
        state = apply(state, signal("blog_view" if n % 4 else "pricing_view", T0 + days(n / 4), event_id=f"e-{n}"),
                      model()).state
    state = apply_feedback(state, Verdict.ACCEPTED, T0 + days(9.5), "fb-1", model()).state
    state = apply_outcome(state, DealOutcome.OPPORTUNITY, T0 + days(9.6), "opp-1", model()).state
    return apply(state, signal("webinar_attended", T0 + days(2.1), event_id="late"), model()).state


def test_a_leads_journal_and_stage_history_survive_its_record_exactly():
    state = long_lead()
    assert state.journal is not None and state.journal.middle is not None and len(state.path) >= 2

    restored = lead_records.decode_state(state.lead_id, lead_records.encode_lead(state, b"", b""))

    assert restored == state
    late = signal("case_study_download", T0 + days(3.3), event_id="later-still")
    assert apply(restored, late, model()) == apply(state, late, model())


@pytest.mark.parametrize("parts", [21, 22], ids=["before revisits", "with its latest revisit"])
def test_a_record_written_before_journals_reads_back_without_one_and_starts_one_at_its_next_input(parts):
    # 22 parts: written after revisits were recorded (revisited_at ends the head) but before journals.
    state = replace(long_lead(), revisited_at=T0 + days(9.7))
    head, _, changes = format_4_record(state).partition(b"\n")
    older = orjson.dumps(orjson.loads(head)[:parts]) + b"\n" + changes

    restored = lead_records.decode_state(state.lead_id, older)
    assert (restored.journal, restored.path) == (None, ())
    assert restored.revisited_at == (state.revisited_at if parts > 21 else None)
    after = apply(restored, signal("blog_view", T0 + days(20), event_id="next"), model()).state
    assert after.journal is not None and after.journal.base.as_of == state.as_of
    assert after.journal.base.revisited_at == restored.revisited_at


def test_a_journals_states_keep_the_due_time_of_their_latest_revisit():
    state = long_lead()
    assert state.journal is not None
    revisited = replace(state, journal=replace(state.journal, base=replace(state.journal.base, revisited_at=T0)))

    restored = lead_records.decode_state(state.lead_id, lead_records.encode_lead(revisited, b"", b""))

    assert restored.journal is not None and restored.journal.base.revisited_at == T0
