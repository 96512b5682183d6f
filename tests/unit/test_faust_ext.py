"""``faust_ext.install()`` replaces Faust's functions only when they are the ones its overrides were written against."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from faust.transport.consumer import Consumer
from faust.transport.producer import ProducerBuffer

from streams import faust_ext
from streams.config.environment import settings_from
from streams.errors import ConfigError, StreamsError
from streams.faust_ext import bulk_fetch, fixes, guard

EVERY_OVERRIDE = (*fixes.OVERRIDES, bulk_fetch.OVERRIDE)


@pytest.fixture(autouse=True)
def originals_back(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Overrides uninstalled before what the test monkeypatched is undone (so it depends on monkeypatch)."""
    faust_ext.uninstall()
    yield
    faust_ext.uninstall()


async def another_flush(self: ProducerBuffer) -> None:
    """What a new faust-streaming release might ship instead of the flush the override was written against."""


def installed() -> list[bool]:
    return [override.replaces.current() is override.replacement for override in EVERY_OVERRIDE]


def test_on_the_pinned_versions_every_override_is_installed_and_a_second_call_does_nothing():
    original_drain = Consumer.__dict__["_drain_messages"]

    faust_ext.install(allow_untested=False)

    assert all(installed())
    assert Consumer._drain_messages is bulk_fetch._drain_in_bulk
    faust_ext.install(allow_untested=False)
    assert len(guard._replaced) == len(EVERY_OVERRIDE), "the second call replaced something again"

    faust_ext.uninstall()
    assert Consumer.__dict__["_drain_messages"] is original_drain and not any(installed())


def test_importing_the_overrides_replaces_nothing():
    assert not any(installed())


def test_a_changed_original_is_refused_naming_the_function_and_the_installed_versions(monkeypatch):
    monkeypatch.setattr(ProducerBuffer, "flush", another_flush)

    with pytest.raises(guard.FaustInternalsChanged) as refused:
        faust_ext.install(allow_untested=False)

    message = str(refused.value)
    assert isinstance(refused.value, StreamsError)  # the CLI prints it in one line and exits 2
    assert "faust.transport.producer.ProducerBuffer.flush" in message
    versions = guard.installed_versions()
    assert f"faust-streaming {versions['faust-streaming']}" in message
    assert f"aiokafka {versions['aiokafka']}" in message
    assert "LEADSTREAM_FAUST_UNTESTED" in message and "\n" not in message
    assert not any(installed()), "nothing may be replaced when one original differs"


def test_a_changed_function_an_override_copies_is_refused_too(monkeypatch):
    monkeypatch.setattr(Consumer, "ack", lambda self, message: True)

    with pytest.raises(guard.FaustInternalsChanged, match=r"faust\.transport\.consumer\.Consumer\.ack \(copied by"):
        faust_ext.install(allow_untested=False)


def test_a_wrong_digest_is_refused():
    wrong = guard.Override(guard.Original(Consumer, "on_buffer_full", "0" * 64), fixes._keep_fetching)

    with pytest.raises(guard.FaustInternalsChanged, match="Consumer.on_buffer_full"):
        guard.install_overrides([wrong], allow_untested=False)
    assert Consumer.__dict__["on_buffer_full"] is not fixes._keep_fetching


def test_untested_versions_allowed_install_every_override_with_a_warning_naming_each_mismatch(monkeypatch, caplog):
    monkeypatch.setattr(ProducerBuffer, "flush", another_flush)
    monkeypatch.setattr(faust_ext, "settings", lambda: settings_from({"LEADSTREAM_FAUST_UNTESTED": "true"}))

    with caplog.at_level(logging.WARNING, logger=guard.__name__):
        faust_ext.install()  # the setting, read as a worker reads it

    assert all(installed())
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and "faust.transport.producer.ProducerBuffer.flush" in warnings[0]
    assert "UNTESTED" in warnings[0]


def test_the_untested_setting_is_off_unless_set_and_validated_like_every_other():
    assert settings_from({}).faust_untested is False
    assert settings_from({"LEADSTREAM_FAUST_UNTESTED": "true"}).faust_untested is True
    assert settings_from({"LEADSTREAM_FAUST_UNTESTED": "0"}).faust_untested is False
    with pytest.raises(ConfigError, match="LEADSTREAM_FAUST_UNTESTED"):
        settings_from({"LEADSTREAM_FAUST_UNTESTED": "perhaps"})


def test_the_fetch_loop_reads_in_bulk_only_for_the_intake_handed_over():
    intake = object()
    try:
        faust_ext.hand_over_bulk_intake(intake)  # type: ignore[arg-type]
        assert bulk_fetch._bulk_intake is intake
    finally:
        faust_ext.hand_over_bulk_intake(None)
