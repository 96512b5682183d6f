"""Checking real messages against the JSON Schema contracts in schemas/."""

from __future__ import annotations

from typing import Any

from functools import cache

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from schemas import all_schemas, schema_for


@cache
def _registry() -> Registry:
    """Contracts refer to each other by file name (a release carries signals): resolve them locally."""
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in all_schemas()
    )


def assert_matches_contract(topic: str, message: Any) -> None:
    """``topic`` is the unprefixed contract name (e.g. 'leads.qualification')."""
    validator = Draft202012Validator(schema_for(topic, message), registry=_registry(),
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(message), key=lambda error: list(error.path))
    assert not errors, f"{topic} message breaks its contract: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors
    )
