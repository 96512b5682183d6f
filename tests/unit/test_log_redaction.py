"""Logs name leads by a short keyed tag, never by their id (often an e-mail), unless LEADSTREAM_LOG_LEAD_IDS says so.

The worker here meets a bug while handling one lead (a stand-in: ``route`` made to fail naming
the lead, as a KeyError on a lead id would): it logs the failure with its traceback and
dead-letters the event. No record it logs carries the e-mail; with the setting on, they do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from mode.utils.logging import ExtensionFormatter

from streams.alerting.message import console_text
from streams.alerting.rules import DEFAULT_STAGES, DEFAULT_TEMPERATURES, AlertRule, promotion
from streams.alerting.change import decode_change
from streams.config.environment import settings_from
from streams.log_redaction import install, lead_ref
from streams.worker import pipeline
from tests.integration.alert_fixtures import encoded, turning_hot
from tests.unit.pipeline_builders import Topology, identify

EMAIL = "ada.lovelace@analytical.example"


@pytest.fixture
def redaction() -> Iterator[None]:
    install(show_lead_ids=False)
    yield
    install(show_lead_ids=False)  # the default for every later test


def handle_with_a_bug(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the worker logs while a bug hits the lead ``EMAIL``, each record formatted as a handler would."""
    def failing_route(batch, signal, ingested_at, partition):
        raise KeyError(signal.lead_id)
    monkeypatch.setattr(pipeline, "route", failing_route)
    caplog.set_level(logging.DEBUG)
    asyncio.run(Topology().send(identify(EMAIL, "ada-1", EMAIL)))
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [formatter.format(record) for record in caplog.records]


def test_a_log_record_made_while_handling_a_lead_carries_no_e_mail(redaction, monkeypatch, caplog):
    logged = handle_with_a_bug(monkeypatch, caplog)
    assert any("unexpected failure" in line and "Traceback" in line for line in logged)  # the bug was logged
    assert [line for line in logged if EMAIL in line] == []
    assert any(lead_ref(EMAIL) in line for line in logged)  # followed by its tag instead


def test_a_redacted_line_is_written_by_the_workers_own_console_formatter(redaction, monkeypatch, caplog):
    formatter = ExtensionFormatter(fmt="%(message)s")  # what `leadstream worker` logs through (Faust's)
    handle_with_a_bug(monkeypatch, caplog)
    redacted = [record for record in caplog.records if lead_ref(EMAIL) in record.getMessage()]
    assert redacted
    for record in redacted:
        line = formatter.format(record)
        assert lead_ref(EMAIL) in line and EMAIL not in line


def test_the_setting_shows_lead_ids_for_debugging(monkeypatch, caplog):
    assert settings_from({"LEADSTREAM_LOG_LEAD_IDS": "true"}).log_lead_ids
    install(show_lead_ids=True)
    try:
        assert any(EMAIL in line for line in handle_with_a_bug(monkeypatch, caplog))
    finally:
        install(show_lead_ids=False)


def test_a_tag_is_stable_within_a_process_and_says_nothing_of_the_id(redaction):
    assert lead_ref(EMAIL) == lead_ref(EMAIL) != lead_ref("grace@analytical.example")
    # The tag's hex may hold "ada" by chance (1 run in 500 did): no part of the address is what counts.
    assert lead_ref(EMAIL).startswith("lead~") and not any(part in lead_ref(EMAIL) for part in ("ada.", "lovelace", "@"))


def test_the_console_alert_names_the_lead_by_its_tag(redaction):
    change = decode_change(encoded(turning_hot(EMAIL)))
    text = console_text(change, promotion(change, AlertRule(DEFAULT_TEMPERATURES, DEFAULT_STAGES)))
    assert EMAIL not in text and lead_ref(EMAIL) in text
