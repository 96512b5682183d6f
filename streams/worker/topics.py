"""The worker's Faust topic objects, one per topic it reads or writes (names from streams.contracts.topics)."""

from __future__ import annotations

from streams.contracts.topics import (
    ACCOUNT_MEMBERS, ACCOUNT_QUALIFICATION, DEAD_LETTERS, FEEDBACK, QUALIFICATION, RAW_EVENTS, SIGNALS, topic_name,
)
from streams.worker.app import app

raw_events_topic = app.topic(topic_name(RAW_EVENTS), key_serializer="raw", value_serializer="raw")
dead_letters_topic = app.topic(topic_name(DEAD_LETTERS), key_serializer="raw", value_serializer="raw")
signals_topic = app.topic(topic_name(SIGNALS), key_serializer="raw", value_serializer="raw")
qualification_topic = app.topic(topic_name(QUALIFICATION), key_serializer="raw", value_serializer="raw")
feedback_topic = app.topic(topic_name(FEEDBACK), key_serializer="raw", value_serializer="raw")
account_members_topic = app.topic(topic_name(ACCOUNT_MEMBERS), key_serializer="raw", value_serializer="raw")
account_qualification_topic = app.topic(topic_name(ACCOUNT_QUALIFICATION), key_serializer="raw",
                                        value_serializer="raw")
