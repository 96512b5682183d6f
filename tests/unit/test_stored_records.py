"""Every table record format a release has written still reads as what that release read from it.

``data/records_format_4.json`` holds records as the 0.2.0 release wrote them (lead state format
4 with its remembered changes, history and links; visitors, accounts and e-mail index entries,
all JSON), captured from that release's code with the plain form (``tests.stored_records``) of
what its own decoders made of each. Changelogs keep such records until each key's next write.
Older lead formats have examples of their own: format 3 in test_stored_formats.py, format 2 and
the keyed format in test_codecs.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.contracts import account_records, email_index, history_records, lead_records, visitor_records
from tests.stored_records import as_read_now, plain

STORED = json.loads((Path(__file__).parent / "data" / "records_format_4.json").read_text())


@pytest.mark.parametrize("stored", STORED["leads"], ids=lambda stored: stored["key"])
def test_a_lead_record_of_the_previous_release_reads_as_it_did_there(stored):
    record = stored["record"].encode()
    state = lead_records.decode_state(stored["key"], record)
    assert plain(state) == as_read_now(stored["state"])
    assert plain(history_records.decode_history(lead_records.history_of(record))) == stored["history"]
    assert list(lead_records.decode_links(lead_records.links_of(record))) == stored["links"]
    # Rewritten by this release, it reads back as the same lead.
    rewritten = lead_records.encode_lead(state, lead_records.history_of(record), lead_records.links_of(record))
    assert plain(lead_records.decode_state(stored["key"], rewritten)) == as_read_now(stored["state"])
    assert plain(history_records.decode_history(lead_records.history_of(rewritten))) == stored["history"]
    assert list(lead_records.decode_links(lead_records.links_of(rewritten))) == stored["links"]


@pytest.mark.parametrize("stored", STORED["visitors"], ids=lambda stored: stored["key"])
def test_a_visitor_record_of_the_previous_release_reads_as_it_did_there(stored):
    visitor = visitor_records.decode_visitor(stored["key"], stored["record"].encode())
    assert plain(visitor) == stored["state"]
    assert plain(visitor_records.decode_visitor(stored["key"], visitor_records.encode_visitor(visitor))) == stored["state"]
    # The board counts visitors holding events by a byte test of either format's record.
    holding = bool(stored["state"]["held"])
    assert visitor_records.holds_events(stored["record"].encode()) is holding
    assert visitor_records.holds_events(visitor_records.encode_visitor(visitor)) is holding


@pytest.mark.parametrize("stored", STORED["accounts"], ids=lambda stored: stored["key"])
def test_an_account_record_of_the_previous_release_reads_as_it_did_there(stored):
    account = account_records.decode_account(stored["key"], stored["record"].encode())
    assert plain(account) == stored["state"]
    assert plain(account_records.decode_account(stored["key"], account_records.encode_account(account))) == stored["state"]


@pytest.mark.parametrize("stored", STORED["emails"], ids=lambda stored: stored["key"])
def test_an_email_index_entry_of_the_previous_release_reads_as_it_did_there(stored):
    assert email_index.decode_entry(stored["record"].encode()) == stored["entry"]


def test_the_examples_cover_leads_at_every_stage_with_journals_and_visitors_linked_or_not():
    stages = {stored["state"]["stage"] for stored in STORED["leads"]}
    assert {"iql", "mql", "pql", "sql"} <= stages
    assert all(stored["state"]["journal"] and stored["state"]["recent_changes"] for stored in STORED["leads"])
    assert {visitor["state"]["lead_id"] is None for visitor in STORED["visitors"]} == {True, False}
