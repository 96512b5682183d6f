"""LEADSTREAM_CONSENT=opt-in: an event is kept only when it carries a yes; refusals win in either mode.

The yes is context.consent true, a granted category in Segment's categoryPreferences or
RudderStack's allowedConsentIds, or, at the collector, consent=true on the pixel and _consent on
a form (written into the event, so the worker reads the same yes).
"""

from __future__ import annotations

import orjson
import pytest

from scoring import Ignored, interpret
from scoring.kinds import IgnoreReason
from scoring import load_model
from streams.collector.edge import Accepted, Hit, Refused, admit
from streams.config.environment import settings_from
from streams.contracts.consent import ConsentMode, ConsentPolicy, consent_policy_from
from streams.contracts.segment import decode_segment
from streams.errors import ConfigError
from tests.unit.builders import T0

OPT_IN = ConsentPolicy(ConsentMode.OPT_IN)
LIMIT = 32 * 1024
YES = [
    {"consent": True},
    {"consent": "granted"},
    {"consent": {"categoryPreferences": {"Analytics": True, "Advertising": False}}},  # Segment
    {"consentManagement": {"provider": "oneTrust", "allowedConsentIds": ["marketing"], "deniedConsentIds": []}},
]
NO = [
    {"consent": False},
    {"dnt": True},
    {"consent": {"categoryPreferences": {"Analytics": False, "Marketing": False}}},
    {"consentManagement": {"allowedConsentIds": [], "deniedConsentIds": ["analytics"]}},
    {"consent": True, "dnt": True},  # a refusal wins over a yes
]
SILENT = [{}, {"consent": {"categoryPreferences": {"Functional": True}}}, {"consent": "maybe"}]


def page(context: dict) -> dict:
    return {"type": "page", "anonymousId": "visitor-1", "messageId": "m-1", "context": context,
            "properties": {"path": "/pricing"}}


@pytest.mark.parametrize("context", YES)
def test_a_yes_admits_the_event_in_either_mode(context):
    for policy in (OPT_IN, ConsentPolicy()):
        assert policy.allows(context, {})
        assert isinstance(admit(page(context), Hit(received_at=T0, policy=policy), LIMIT), Accepted)


@pytest.mark.parametrize("context", NO)
def test_a_refusal_is_refused_in_either_mode(context):
    for policy in (OPT_IN, ConsentPolicy()):
        assert not policy.allows(context, {})
        assert admit(page(context), Hit(received_at=T0, policy=policy), LIMIT) == Refused("page")


@pytest.mark.parametrize("context", SILENT)
def test_without_a_signal_opt_out_keeps_the_event_and_opt_in_refuses_it(context):
    assert isinstance(admit(page(context), Hit(received_at=T0), LIMIT), Accepted)
    assert admit(page(context), Hit(received_at=T0, policy=OPT_IN), LIMIT) == Refused("page")


def test_a_yes_on_the_request_is_written_into_the_event_for_the_worker_to_read():
    accepted = admit(page({}), Hit(received_at=T0, consent=True, policy=OPT_IN), LIMIT)
    assert isinstance(accepted, Accepted)
    assert orjson.loads(accepted.value)["context"]["consent"] is True
    event = decode_segment(accepted.value, T0, LIMIT, OPT_IN)
    assert event.consent


def test_under_opt_in_the_worker_ignores_an_event_without_a_yes_as_no_consent():
    raw = orjson.dumps(page({}))
    assert decode_segment(raw, T0, LIMIT).consent  # opt-out: kept
    ignored = interpret(decode_segment(raw, T0, LIMIT, OPT_IN), load_model())
    assert ignored == Ignored(IgnoreReason.NO_CONSENT)


def test_the_mode_and_categories_are_read_and_validated_at_start():
    assert settings_from({}).consent == ConsentPolicy()
    assert settings_from({"LEADSTREAM_CONSENT": "opt-in", "LEADSTREAM_CONSENT_CATEGORIES": "C0002, Analytics"}).consent \
        == ConsentPolicy(ConsentMode.OPT_IN, frozenset({"c0002", "analytics"}))
    with pytest.raises(ConfigError, match="LEADSTREAM_CONSENT: expected opt-out or opt-in"):
        consent_policy_from({"LEADSTREAM_CONSENT": "optin"})
    with pytest.raises(ConfigError, match="LEADSTREAM_CONSENT_CATEGORIES"):
        consent_policy_from({"LEADSTREAM_CONSENT_CATEGORIES": " , "})
