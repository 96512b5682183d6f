"""Compacted topics that already exist get the compaction bound erasure relies on, or the process refuses to start.

A topic created by an older version (or by hand) keeps the config it was created with: without
``max.compaction.lag.ms`` an erasure's tombstone may sit uncompacted for as long as the topic
lives, and docs/privacy.md's worst case would be a lie. So a compacted topic whose bound is
missing or looser than ours is altered, its other settings kept, and the change logged; a topic
that should be compacted but is not is refused with the command that fixes it (compacting it
would fold older verdicts that share a key: the operator decides), as is one the broker will not
let us alter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from streams.errors import TopicMismatch

log = logging.getLogger(__name__)

# DescribeConfigs' config_source for a value set on the topic itself (the ones an alter must repeat).
_TOPIC_OVERRIDE = 1
_BOUNDED = ("max.compaction.lag.ms", "segment.ms", "delete.retention.ms")


async def bound_compaction(admin: AIOKafkaAdminClient, wanted: Mapping[str, Mapping[str, str]]) -> None:
    """``wanted``: each existing compacted topic's configs as the app creates it (cleanup.policy and the bound)."""
    if not wanted:
        return
    described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted])
    refusals, alterations = [], []
    for response in described:
        for error_code, error_message, _, topic, entries in response.resources:
            if error_code:
                refusals.append(f"{topic}: its config cannot be read ({for_code(error_code).__name__} {error_message or ''})")
                continue
            current = {entry[0]: entry[1] for entry in entries}
            overrides = {entry[0]: entry[1] for entry in entries if _is_override(entry)}
            policy, wanted_policy = current.get("cleanup.policy") or "", wanted[topic]["cleanup.policy"]
            if "compact" not in policy or ("delete" in wanted_policy and "delete" not in policy):
                # Not ours to change: compacting folds records that share a key, deleting drops old ones.
                what = ("is not compacted, so erasure's tombstones never remove what they replace" if "compact" not in policy
                        else f"keeps records forever instead of {wanted[topic].get('retention.ms')} ms")
                refusals.append(f"{topic} {what} (cleanup.policy={policy}): kafka-configs --alter --entity-type topics"
                                f" --entity-name {topic} --add-config cleanup.policy=[{wanted_policy}]"
                                + (f",retention.ms={wanted[topic]['retention.ms']}" if "delete" in wanted_policy else ""))
                continue
            looser = {name: wanted[topic][name] for name in _BOUNDED if _looser(current.get(name), wanted[topic][name])}
            if not looser:
                continue
            if any(entry[4] for entry in entries if _is_override(entry)):  # a secret value cannot be repeated back
                refusals.append(f"{topic}: set {', '.join(f'{k}={v}' for k, v in looser.items())} (it has sensitive settings)")
                continue
            alterations.append((topic, {**overrides, **looser}, {name: current.get(name) for name in looser}))
    if alterations:
        answers = await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)
                                             for topic, configs, _ in alterations])
        failed = {topic: f"{for_code(code).__name__} {message or ''}".rstrip()
                  for answer in answers for code, message, _, topic in answer.resources if code}
        for topic, configs, before in alterations:
            if topic in failed:
                refusals.append(f"{topic}: the broker refused to set the compaction bound ({failed[topic]}); set"
                                f" {', '.join(f'{k}={configs[k]}' for k in before)}")
            else:
                log.warning("topic %s had %s: set to %s, the bound erasure relies on (docs/privacy.md)", topic,
                            ", ".join(f"{k}={v}" for k, v in before.items()),
                            ", ".join(f"{k}={configs[k]}" for k in before))
    if refusals:
        raise TopicMismatch("compacted topics without the compaction bound erasure relies on (docs/privacy.md): "
                            + "; ".join(refusals))


def _is_override(entry: tuple) -> bool:
    source = entry[3]  # config_source (v1+), or is_default (v0)
    return (not source) if isinstance(source, bool) else source == _TOPIC_OVERRIDE


def _looser(current: str | None, bound: str) -> bool:
    """Unset, unparsable, or longer than the bound (an operator's shorter setting stays)."""
    try:
        return current is None or int(current) > int(bound)
    except ValueError:
        return True
