"""Checking real messages against the JSON Schema contracts in schemas/."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from schemas import schema_for


def assert_matches_contract(topic: str, message: Any) -> None:
    """``topic`` is the unprefixed contract name (e.g. 'leads.qualification')."""
    validator = Draft202012Validator(schema_for(topic, message), format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(message), key=lambda error: list(error.path))
    assert not errors, f"{topic} message breaks its contract: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors
    )
