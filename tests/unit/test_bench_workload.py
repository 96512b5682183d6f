"""The benchmark's workload: deterministic, keyed as the collector keys, with the realistic mix."""

from __future__ import annotations

import orjson

from bench.latency import percentile
from bench.memory import cloned
from bench.workload import MALFORMED, generate

START = 1_790_000_000.0


def test_the_same_seed_and_start_give_the_same_events():
    first = generate(3_000, 300, seed=3, start=START)
    again = generate(3_000, 300, seed=3, start=START)
    assert first.values == again.values and first.keys == again.keys
    assert generate(3_000, 300, seed=4, start=START).values != first.values


def test_exactly_the_requested_events_over_every_lead():
    workload = generate(5_000, 500, start=START)
    assert len(workload) == 5_000 == sum(workload.labels.values())
    decoded = [orjson.loads(value) for value in workload.values if value != MALFORMED]
    leads = {message.get("userId") or message["anonymousId"] for message in decoded}
    assert len({lead for lead in leads if not lead.startswith("crawler-")}) == 500


def test_every_event_is_keyed_by_user_id_else_anonymous_id():
    workload = generate(2_000, 200, start=START)
    for key, value in workload.pairs():
        if value == MALFORMED:
            continue
        message = orjson.loads(value)
        assert key == (message.get("userId") or message["anonymousId"]).encode()


def test_the_mix_holds_identifies_tracks_pages_and_noise_at_segment_sizes():
    workload = generate(20_000, 2_000, start=START)
    labels = workload.labels
    for label in ("identify", "page", "track", "duplicate", "unmapped", "bot", "malformed"):
        assert labels[label] > 0, labels
    assert labels["page"] + labels["track"] > 0.8 * len(workload)
    assert 250 <= workload.mean_bytes <= 450


def test_without_malformed_drops_only_the_broken_payloads():
    workload = generate(5_000, 500, start=START)
    clean = workload.without_malformed()
    assert len(clean) == len(workload) - workload.labels["malformed"]
    assert MALFORMED not in clean.values


def test_clones_keep_the_states_under_new_lead_ids():
    states = {b"a": b"1", b"b": b"2"}
    assert cloned(states, 5) == [(b"a", b"1"), (b"b", b"2"), (b"a#c1", b"1"), (b"b#c1", b"2"), (b"a#c2", b"1")]


def test_nearest_rank_percentiles():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
