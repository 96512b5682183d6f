"""Errors raised by the scoring core; every one names what was wrong."""


class ScoringError(Exception):
    """Base class for every error the scoring core raises."""


class ModelError(ScoringError):
    """The scoring-model file is invalid; the message names the field and what is allowed."""


class CalibrationError(ScoringError):
    """The history cannot support a calibration; the message says what is missing."""
