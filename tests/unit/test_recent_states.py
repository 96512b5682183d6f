"""A state is taken from the recent ones only while the table still holds the very record it was written as."""

from __future__ import annotations

from streams import codecs
from streams.recent_states import RecentStates
from tests.unit.builders import T0, identify, journey


def a_state(lead: str = "lead-1"):
    return journey([identify(T0, f"{lead}@acme.io", lead=lead)])[-1].state


def test_the_state_written_as_a_record_is_found_for_that_very_record():
    state = a_state()
    record = codecs.encode_lead(state)
    recent = RecentStates()
    recent.put(b"lead-1", record, state)
    assert recent.get(b"lead-1", record) is state


def test_an_equal_record_written_or_recovered_since_is_decoded_instead():
    state = a_state()
    record = codecs.encode_lead(state)
    recent = RecentStates()
    recent.put(b"lead-1", record, state)
    recovered = bytes(bytearray(record))  # the same bytes, another object: a recovery or another write
    assert recovered == record and recovered is not record
    assert recent.get(b"lead-1", recovered) is None


def test_the_least_recently_used_state_makes_way_beyond_the_bound():
    recent = RecentStates(size=2)
    written = {}
    for lead in ("a", "b", "c"):
        state = a_state(lead)
        written[lead] = codecs.encode_lead(state)
        recent.put(lead.encode(), written[lead], state)
        if lead == "b":
            assert recent.get(b"a", written["a"]) is not None  # "a" used again: "b" is now the oldest
    assert recent.get(b"b", written["b"]) is None
    assert recent.get(b"a", written["a"]) is not None and recent.get(b"c", written["c"]) is not None
    assert len(recent) == 2
