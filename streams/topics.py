"""Every topic the app reads or writes, declared once (names are the documented contract)."""

from __future__ import annotations

from streams.app import app
from streams.config import settings

RAW_EVENTS = "leads.events.raw"
DEAD_LETTERS = "leads.events.dlq"
SIGNALS = "leads.signals"
QUALIFICATION = "leads.qualification"
FEEDBACK = "leads.feedback"
ACCOUNT_MEMBERS = "accounts.members"
ACCOUNT_QUALIFICATION = "accounts.qualification"
# The applied scoring model: one partition, compacted, read whole by every worker (streams/rollout.py).
CONTROL = "leads.control"
# Where `leadstream replay` writes the changes a candidate model would have made.
REPLAY_QUALIFICATION = "leads.qualification.replay"
ALL_TOPICS = (RAW_EVENTS, DEAD_LETTERS, SIGNALS, QUALIFICATION, FEEDBACK, ACCOUNT_MEMBERS, ACCOUNT_QUALIFICATION,
              CONTROL, REPLAY_QUALIFICATION)


def topic_name(name: str) -> str:
    return settings().topic_prefix + name


raw_events_topic = app.topic(topic_name(RAW_EVENTS), key_serializer="raw", value_serializer="raw")
dead_letters_topic = app.topic(topic_name(DEAD_LETTERS), key_serializer="raw", value_serializer="raw")
signals_topic = app.topic(topic_name(SIGNALS), key_serializer="raw", value_serializer="raw")
qualification_topic = app.topic(topic_name(QUALIFICATION), key_serializer="raw", value_serializer="raw")
feedback_topic = app.topic(topic_name(FEEDBACK), key_serializer="raw", value_serializer="raw")
account_members_topic = app.topic(topic_name(ACCOUNT_MEMBERS), key_serializer="raw", value_serializer="raw")
account_qualification_topic = app.topic(topic_name(ACCOUNT_QUALIFICATION), key_serializer="raw",
                                        value_serializer="raw")
