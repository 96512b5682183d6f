"""Lead records as earlier formats stored them still read: changelogs hold them until each lead's next write."""

from __future__ import annotations

import orjson
from msgspec.structs import replace

from scoring import Signal, Stage, Status, Temperature, apply, load_model
from scoring.criteria import Answer
from streams.contracts import lead_records, record_frame
from tests.unit.builders import T0
from tests.unit.test_codecs import rich_journey

# A lead's record as format 3 wrote it (the worker before sales-owned SQL): a fitting VP who read a
# case study, asked for a demo and confirmed BANT. Changelogs still hold such records.
FORMAT_3_RECORD = (
    b'[3,"default-2",true,1700009000.0,[6,0.9985569855219026,1,1700003600.0,10,0.9979391883568344,1,170000'
    b'7200.0],["email","vp@acme.com",1700000000.0,"company","Acme",1700000000.0,"title","VP Marketing",170'
    b'0000000.0,"industry","Software",1700000000.0,"employees",200,1700000000.0,"country","US",1700000000.'
    b'0],["budget",0,1700009000.0,"authority",0,1700009000.0,"need",0,1700009000.0,"timeline",0,1700009000'
    b'.0],[0,1,0,1],5,2,null,3,"vkNugt2hXEcgmsNlot7YNVpcHJBdRbgJzkPzFLZH/TI=",34,2]\n[[13709923198989065287'
    b',1,"acme.com",0,0,1,0,[0.0,0.0,0.0,0.0,100.0],[],["industry software",25.0,"company size 200",25.0,"'
    b'country US",20.0,"title decision_maker",30.0],"bant",["budget",2,"authority",2,"need",2,"timeline",2'
    b'],[],"default-2","evt-1",1700000000.0,"event"],[6511110567636613129,2,0,1,0,1,1,[9.990377588337834,3'
    b'0.0,0.0,0.0,100.0],[10,30.0,1700007200.0,1,6,9.990377588337834,1700003600.0,1],0,0,0,0,0,"evt-3",170'
    b'0007200.0,"event"],[14862990465535835442,3,0,1,1,5,2,[9.985569855219026,29.93817565070503,0.0,0.0,10'
    b'0.0],[10,29.93817565070503,1700007200.0,1,6,9.985569855219026,1700003600.0,1],0,0,["budget",0,"autho'
    b'rity",0,"need",0,"timeline",0],0,0,"evt-4",1700009000.0,"event"]]'
)


def test_a_lead_stored_in_format_3_reads_back_and_keeps_scoring_under_sales_owned_sql():
    assert FORMAT_3_RECORD.startswith(lead_records.classified_under("default-2"))
    state = lead_records.decode_state("vp", FORMAT_3_RECORD)
    assert (state.stage, state.temperature, state.levels.sql, state.levels.hot) == (Stage.SQL, Temperature.HOT, 1, 0)
    assert state.profile["title"].value == "VP Marketing" and state.answers["budget"].status is Status.MET
    assert (state.accepted_at, state.active_at, state.needs_enrichment) == (None, state.as_of, False)
    assert [(c.to_stage, c.to_temperature, c.cause, c.cause_detail) for _, c in state.recent_changes] == [
        (Stage.IQL, Temperature.COLD, "event", None), (Stage.IQL, Temperature.WARM, "event", None),
        (Stage.SQL, Temperature.HOT, "event", None)]
    # Its next event scores it under the current rules and writes it in the current format.
    later = apply(state, Signal(event_id="next", lead_id="vp", anonymous=False, kind="pricing_view",
                                occurred_at=state.as_of + 3600), load_model())
    assert later.state.stage is Stage.SQL  # every BANT criterion confirmed, fit known and good
    assert lead_records.encode_state(later.state)[0] == lead_records.STATE_FORMAT


def test_a_format_3_record_with_erasure_links_keeps_them_when_its_lead_is_rewritten_with_what_sales_said():
    # Before sales-owned SQL, a worker with erasure wrote format 3 plus a links line (its history empty).
    links = lead_records.encode_links(["anon-1"], ["fb-1"])
    stored = FORMAT_3_RECORD + b"\n\n" + links
    state = lead_records.decode_state("vp", stored)
    assert state.stage is Stage.SQL and state.accepted_at is None
    assert lead_records.history_of(stored) == b""
    assert lead_records.decode_links(lead_records.links_of(stored)) == (["anon-1"], ["fb-1"])

    accepted = replace(state, accepted_at=state.as_of + 60, active_at=state.as_of + 60, needs_enrichment=True)
    history = b'{"placeholder":"a JSON history line, carried over"}'
    rewritten = lead_records.encode_lead(accepted, history, links)

    assert rewritten[0] == lead_records.STATE_FORMAT == 5
    again = lead_records.decode_state("vp", rewritten)
    assert (again.accepted_at, again.active_at, again.needs_enrichment) == (state.as_of + 60, state.as_of + 60, True)
    assert again.profile == state.profile and again.recent_changes == state.recent_changes
    assert record_frame.loads(lead_records.history_of(rewritten)) == orjson.loads(history)  # now in MessagePack
    assert lead_records.decode_links(lead_records.links_of(rewritten)) == (["anon-1"], ["fb-1"])


# A lead's record as format 4 wrote it before grades (scoring.grade): a fitting VP who read a case study,
# asked for a demo and attended a webinar, an MQL. Changelogs hold such records until its next write.
FORMAT_4_BEFORE_GRADES = (
    b'[4,"default-3",true,1700009000.0,[6,0.9985569855219026,1,1700003600.0,10,0.9979391883568344,1,170000'
    b'7200.0,13,1.0,1,1700009000.0],["email","vp@acme.com",1700000000.0,"company","Acme",1700000000.0,"tit'
    b'le","VP Marketing",1700000000.0,"industry","Software",1700000000.0,"employees",200,1700000000.0,"cou'
    b'ntry","US",1700000000.0],[],[1,1,0,1,1],3,1,null,3,"vkNugt2hXEcgmsNlot7YNVpcHJBdRbgJzkPzFLZH/TI=",10'
    b',1,null,null,1700009000.0,[],null,false,null,[1700000000.0,1,0,"event",1700007200.0,1,1,"event",1700'
    b'009000.0,3,1,"event"],[[4,null,true,null,[],[],[],[0,0,0,0,0],0,0,null,0,"",0,0,null,null,null,[],nu'
    b'll,false,null,[],null],null,0,[[0,"evt-1",1700000000.0,0,false,["email","vp@acme.com","company","Acm'
    b'e","title","VP Marketing","industry","Software","employees",200,"country","US"],[]],[0,"evt-2",17000'
    b'03600.0,6,false,[],[]],[0,"evt-3",1700007200.0,10,false,[],[]],[0,"evt-4",1700009000.0,13,false,[],['
    b']]]]]\n[[13709923198989065287,1,"acme.com",0,0,1,0,[0.0,0.0,0.0,0.0,100.0],[],["industry software",25'
    b'.0,"company size 200",25.0,"country US",20.0,"title decision_maker",30.0],"bant",["budget",2,"author'
    b'ity",2,"need",2,"timeline",2],[],"default-3","evt-1",1700000000.0,"event",null,false],[6511110567636'
    b'613129,2,0,1,0,1,1,[9.990377588337834,30.0,0.0,0.0,100.0],[10,30.0,1700007200.0,1,6,9.99037758833783'
    b'4,1700003600.0,1],0,0,0,0,0,"evt-3",1700007200.0,"event",null,false],[14862990465535835442,3,0,1,1,3'
    b',1,[29.985569855219026,29.93817565070503,0.0,0.0,100.0],[10,29.93817565070503,1700007200.0,1,13,20.0'
    b',1700009000.0,1,6,9.985569855219026,1700003600.0,1],0,0,0,0,0,"evt-4",1700009000.0,"event",null,fals'
    b'e]]'
)


def test_a_lead_stored_before_grades_reads_back_ungraded_and_is_graded_at_its_next_event():
    state = lead_records.decode_state("vp", FORMAT_4_BEFORE_GRADES)
    assert (state.stage, state.temperature, state.grade) == (Stage.MQL, Temperature.WARM, None)
    assert [(c.to_stage, c.grade) for _, c in state.recent_changes] == [
        (Stage.IQL, None), (Stage.IQL, None), (Stage.MQL, None)]
    assert state.journal is not None and state.journal.base.grade is None

    # A pricing view moves neither stage nor temperature, but grades it: fit 100 and engagement some 70 make A1.
    later = apply(state, Signal(event_id="next", lead_id="vp", anonymous=False, kind="pricing_view",
                                occurred_at=state.as_of + 60), load_model())
    assert later.change is None and later.state.grade == "A1"
    rewritten = lead_records.decode_state("vp", lead_records.encode_state(later.state))
    assert rewritten.grade == "A1" and rewritten == later.state
    assert [c.grade for _, c in rewritten.recent_changes] == [None, None, None]


def test_every_signal_kind_stage_temperature_and_status_has_a_code_in_the_lead_record():
    state = rich_journey()[-1].state
    for kind in (*load_model().signals, "g2_intent"):  # a kind a model file defines is written by its name
        stored = lead_records.encode_state(replace(state, tallies={kind: next(iter(state.tallies.values()))}))
        assert lead_records.decode_state(state.lead_id, stored).tallies.keys() == {kind}
    for stage in Stage:
        for temperature in Temperature:
            moved = replace(state, stage=stage, temperature=temperature, reached=frozenset({stage}), hottest=temperature)
            assert lead_records.decode_state(state.lead_id, lead_records.encode_state(moved)) == moved
    for status in Status:
        answered = replace(state, answers={"need": Answer(status, T0)})
        assert lead_records.decode_state(state.lead_id, lead_records.encode_state(answered)).answers["need"].status is status

