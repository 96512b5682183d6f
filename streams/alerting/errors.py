"""Errors raised by the alerts consumer; every one says what failed."""

from streams.errors import StreamsError


class AlertingError(StreamsError):
    """Base class for every error the alerts consumer raises."""


class AlertConfigError(AlertingError):
    """An alerts option is invalid; the message names the option."""


class UnreadableChange(AlertingError):
    """A record on the qualification topic is not a qualification change this consumer can read."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # a small fixed set, used as a metric label
        self.detail = detail


class SimulatedCrash(AlertingError):
    """crash_after_record stopped the consumer after the store record, before the commit (tests only)."""
