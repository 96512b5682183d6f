"""Alerts show the lead's letter grade; a change from a worker that predates grades still alerts."""

from __future__ import annotations

import orjson
import pytest

from streams.alerting.change import decode_change
from streams.alerting.errors import UnreadableChange
from streams.alerting.message import console_text, slack_message
from streams.alerting.rules import AlertRule, promotion
from tests.integration.alert_fixtures import encoded, turning_hot

RULE = AlertRule()


def fields_of(message: dict) -> list[str]:
    return [item["text"] for block in message["blocks"] for item in block.get("fields", ())]


def test_the_slack_message_and_the_console_show_the_grade():
    change = decode_change(encoded(turning_hot("dana@acme.io", grade="B2")))
    found = promotion(change, RULE)
    assert found is not None

    message = slack_message(change, found)
    assert "*Grade*\nB2" in fields_of(message)
    assert "grade B2, score 76.7" in message["text"]
    assert "grade B2  score 76.7" in console_text(change, found)


def test_a_change_written_before_grades_still_alerts_without_one():
    document = orjson.loads(encoded(turning_hot("dana@acme.io")))
    del document["grade"]
    change = decode_change(orjson.dumps(document))
    found = promotion(change, RULE)
    assert change.grade is None and found is not None

    message = slack_message(change, found)
    assert not any(text.startswith("*Grade*") for text in fields_of(message))
    assert "grade" not in message["text"] and "grade" not in console_text(change, found)


@pytest.mark.parametrize("grade", ["D1", "A4", "a1", 11])
def test_a_grade_off_the_grid_is_an_unreadable_change_naming_the_field(grade):
    document = orjson.loads(encoded(turning_hot("dana@acme.io")))
    document["grade"] = grade

    with pytest.raises(UnreadableChange) as raised:
        decode_change(orjson.dumps(document))
    assert raised.value.reason == "invalid_field" and "grade" in str(raised.value)
