"""JSON Schema contracts of every topic's messages, one file per message kind."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

# topic -> {message kind -> schema file}; a topic with one kind maps it under None.
TOPIC_SCHEMAS: dict[str, dict[str | None, str]] = {
    "leads.events.raw": {None: "inbound-event.schema.json"},
    "leads.events.dlq": {None: "dead-letter.schema.json"},
    "leads.signals": {None: "signal.schema.json", "command": "command.schema.json"},
    "leads.qualification": {
        "qualification_change": "qualification-change.schema.json",
        "revisit_due": "qualification-change.schema.json",  # one contract: a change that moves nothing
        "lead_erased": "lead-erased.schema.json",
    },
    "leads.feedback": {None: "sales-feedback.schema.json"},
    "accounts.members": {None: "account-member.schema.json"},
    "accounts.qualification": {None: "account-qualification-change.schema.json"},
    "leads.control": {"model_applied": "model-applied.schema.json", "worker_model": "worker-model.schema.json",
                     "model_shadow": "model-shadow.schema.json"},
    # What `leadstream replay` writes: the changes a candidate model would have made, same contract.
    "leads.qualification.replay": {"qualification_change": "qualification-change.schema.json",
                                   "revisit_due": "qualification-change.schema.json"},
    # What a shadow model (`leadstream model shadow`) would have changed, live: same contract, its own model_version.
    "leads.qualification.shadow": {"qualification_change": "qualification-change.schema.json",
                                   "revisit_due": "qualification-change.schema.json"},
}


@cache
def load_schema(file_name: str) -> dict[str, Any]:
    return json.loads(resources.files("schemas").joinpath(file_name).read_text("utf-8"))


def all_schemas() -> list[dict[str, Any]]:
    """Every contract, for a validator that must resolve references between them."""
    return [load_schema(name) for kinds in TOPIC_SCHEMAS.values() for name in kinds.values()]


def schema_for(topic: str, message: Any) -> dict[str, Any]:
    """The schema a message on ``topic`` must meet: chosen by its ``kind`` where a topic has several.

    Commands (``{"command": ...}``) share leads.signals with signals and are told apart by that field.
    """
    kinds = TOPIC_SCHEMAS[topic]
    if isinstance(message, dict) and "command" in message and "command" in kinds:
        return load_schema(kinds["command"])
    if None in kinds:
        return load_schema(kinds[None])
    kind = message.get("kind") if isinstance(message, dict) else None
    if kind not in kinds:
        raise KeyError(f"{topic} carries no message kind {kind!r}; known: {', '.join(map(str, kinds))}")
    return load_schema(kinds[kind])
