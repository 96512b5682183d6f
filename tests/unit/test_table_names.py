"""The table names in the contract are the tables the worker declares, so topic creation makes every changelog."""

from __future__ import annotations

from streams.config.environment import settings_from
from streams.contracts.topic_admin import changelog_name, wanted_topics
from streams.contracts.topics import ALL_TABLES


def test_the_contract_names_every_table_the_worker_declares():
    from streams.worker import tables  # noqa: F401 — declares every table on the app
    from streams.worker.app import app

    assert sorted(app.tables) == sorted(ALL_TABLES)


def test_topic_creation_asks_for_each_tables_changelog():
    config = settings_from({})

    names = {topic.name for topic in wanted_topics(config)}

    assert {changelog_name(config.app_id, table) for table in ALL_TABLES} <= names
