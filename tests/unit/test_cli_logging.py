"""aiokafka's start-up messages that mean nothing to a user stay out of the default log level, not out of info."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from streams.cli_support import configure_logging


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def kept() -> Iterator[Kept]:
    root = logging.getLogger()
    handler, level = Kept(), root.level
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def log_coordinator_noise_and_a_real_error() -> None:
    logging.getLogger("aiokafka.consumer.group_coordinator").error(
        "Group Coordinator Request failed: %s", "[Error 15] CoordinatorNotAvailableError")
    logging.getLogger("aiokafka.consumer.group_coordinator").error("OffsetCommit failed for group g")


def test_coordinator_start_up_noise_is_left_out_at_the_default_level(kept: Kept, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LEADSTREAM_LOG_LEVEL", raising=False)
    configure_logging(own_handler=False)
    log_coordinator_noise_and_a_real_error()
    assert kept.messages == ["OffsetCommit failed for group g"]


def test_at_info_the_start_up_messages_are_shown(kept: Kept, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEADSTREAM_LOG_LEVEL", "info")
    configure_logging(own_handler=False)
    log_coordinator_noise_and_a_real_error()
    assert kept.messages == ["Group Coordinator Request failed: [Error 15] CoordinatorNotAvailableError",
                             "OffsetCommit failed for group g"]
