"""JSON Schema contracts of every topic's messages, one file per message kind."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

# topic -> schema file of the messages on it
TOPIC_SCHEMAS = {
    "leads.events.raw": "inbound-event.schema.json",
    "leads.events.dlq": "dead-letter.schema.json",
    "leads.signals": "signal.schema.json",
    "leads.qualification": "qualification-change.schema.json",
}


@cache
def load_schema(file_name: str) -> dict[str, Any]:
    return json.loads(resources.files("schemas").joinpath(file_name).read_text("utf-8"))


def schema_for_topic(topic: str) -> dict[str, Any]:
    return load_schema(TOPIC_SCHEMAS[topic])
