"""What the board shows of the lead timer and of unknown fit: "needs enrichment", and the leads due for another look.

The documents are the lead API's own (``lead_document``, ``history_document``), built from leads run
through the pure core, so the board shows what the API answers.
"""

from __future__ import annotations

import orjson

from scoring.history import History
from scoring.replay import replay
from streams.api.board import pages
from streams.api.board.revisit_list import revisit_section
from streams.api.lead_view import history_document, lead_document
from tests.unit.builders import DAY, HOUR, ICP_FIT, T0, days, event, model

MODEL = model()


def identify(at, lead, email, **traits):
    return event("identify", at, lead=lead, attributes={"email": email, **traits})


def track(name, at, lead):
    return event("track", at, lead=lead, name=name, attributes={})


def as_api(document: dict) -> dict:
    return orjson.loads(orjson.dumps(document))


def trial_user():
    """Uses the product eight times a day from a company address, with no profile: PQL, held back by unknowns."""
    history = [identify(T0, "trial", "dev@startup.io"), track("Trial Started", T0 + HOUR, "trial")]
    history += [track("Feature Used", T0 + DAY + n * HOUR, "trial") for n in range(8)]
    return replay(history, MODEL, until=T0 + days(2)).states["trial"]


def known_vp():
    history = [identify(T0, "vp", "vp@acme.com", **ICP_FIT), track("Trial Started", T0 + HOUR, "vp")]
    history += [track("Feature Used", T0 + DAY + n * HOUR, "vp") for n in range(8)]
    return replay(history, MODEL, until=T0 + days(2)).states["vp"]


def test_a_lead_held_back_only_by_unknown_fit_says_needs_enrichment_on_its_page_and_in_the_lists():
    trial, vp = trial_user(), known_vp()
    held, known = as_api(lead_document(trial, MODEL, T0 + days(2))), as_api(lead_document(vp, MODEL, T0 + days(2)))
    assert held["needs_enrichment"] is True and known["needs_enrichment"] is False

    page_of = {name: pages.lead_page(as_api(history_document(state, History(), MODEL, T0 + days(2))), MODEL)
               for name, state in (("trial", trial), ("vp", vp))}
    assert "needs enrichment" in page_of["trial"] and "needs enrichment" not in page_of["vp"]
    assert "needs enrichment" in pages.hot_row(pages.hot_lead_from_document(held))
    assert "needs enrichment" not in pages.hot_row(pages.hot_lead_from_document(known))
    # A change on the topic carries the flag: the live hot list shows it too.
    change = {"lead_id": "trial", "account": "startup.io", "to_stage": "pql", "to_temperature": "hot",
              "score": {"total": 40.0, "fit": 0.0}, "reasons": [], "criteria": {}, "needs_enrichment": True}
    assert "needs enrichment" in pages.hot_row(pages.hot_lead_from_change(change))


def test_the_overview_lists_the_leads_due_for_another_look_longest_waiting_first():
    history = [identify(T0, "cio", "cio@acme.com", **ICP_FIT), identify(T0 + days(5), "cto", "cto@acme.com", **ICP_FIT)]
    run = replay(history, MODEL, until=T0 + days(100))
    due = [as_api(lead_document(run.states[lead], MODEL, T0 + days(100))) for lead in ("cio", "cto")]
    assert [d["revisit"]["awaiting"] for d in due] == [True, True]
    assert due[0]["revisit"]["due_at"] < due[1]["revisit"]["due_at"]
    assert due[0]["revisit"]["next_due_at"] > due[0]["revisit"]["due_at"]  # the next look is scheduled

    section = revisit_section(due, 50)
    assert section.index("cio") < section.index("cto")
    # Fit 100 and nothing done: the grade says why it is worth a look and why it went quiet.
    assert [d["grade"] for d in due] == ["A3", "A3"] and '<th scope="col">Grade</th>' in section
    assert section.count('">A3</span></td>') == 2
    assert "Due for another look" in section and "No lead is due" not in section
    assert "No lead is due" in revisit_section([], 50)
    assert "did not answer" in revisit_section(None, 50)
    overview = pages.overview("", [], 50, section)
    assert 'id="revisits"' in overview and "cio" in overview

    lead_page = pages.lead_page(as_api(history_document(run.states["cio"], History(), MODEL, T0 + days(100))), MODEL)
    assert "Due for another look since" in lead_page


def test_a_hostile_lead_id_in_the_revisit_queue_is_text():
    hostile = '"><img src=x onerror=alert(1)>'
    run = replay([identify(T0, hostile, "x@acme.com", **ICP_FIT)], MODEL, until=T0 + days(100))
    document = as_api(lead_document(run.states[hostile], MODEL, T0 + days(100)))
    document["account"] = hostile
    assert "<img" not in revisit_section([document], 50)
