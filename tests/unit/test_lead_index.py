"""The lead index (streams/worker/lead_index.py): kept in step with the leads table, and ranking as a full scan would.

GET /leads and the board read it instead of decoding every held lead, so what a user sees is
only right if the index follows every write (promotion, demotion, erasure), comes back the same
from a recovery, forgets partitions the worker lost, and picks the leads a scan would pick.
"""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from datetime import timedelta

from scoring.crossing import next_demotion
from streams.api.lead_view import hotness, lead_document
from streams.contracts import command_records
from streams.contracts.partitioning import partition_for
from streams.worker import pipeline
from streams.worker.batch import stored_state
from streams.worker.census import bucket
from streams.worker.lead_index import LeadIndex, bounds, half_lives, standing
from tests.unit.pipeline_builders import (
    NOW, PARTITIONS, Topology, answers, hot_journey, identify, page, track, worker_context,
)
from tests.unit.pipeline_builders import MovableClock

ALL = set(range(PARTITIONS))
BEHAVIOUR = (("track", "Case Study Downloaded"), ("track", "Webinar Attended"), ("page", "/pricing"),
             ("track", "Demo Requested"), ("page", "/blog/a"), ("track", "Email Unsubscribed"),
             ("track", "Email Bounced"), ("page", "/product"), ("track", "Trial Started"))


def run(step) -> None:
    asyncio.run(step())


def held(topology: Topology, partitions: set[int] = ALL) -> dict[int, dict[bytes, tuple[str, str]]]:
    """What a full scan of the table finds: per owned partition, each lead and its (stage, temperature)."""
    found: dict[int, dict[bytes, tuple[str, str]]] = {partition: {} for partition in partitions}
    for key, value in topology.context.leads.data.items():
        state = stored_state(key, value)
        if state is not None and (partition := partition_for(key, PARTITIONS)) in partitions:
            found[partition][key] = bucket(state)
    return found


def indexed(index: LeadIndex, partitions: set[int] = ALL) -> dict[int, dict[bytes, tuple[str, str]]]:
    return {partition: index.keys(partition) for partition in partitions}


def in_step(topology: Topology) -> None:
    assert indexed(topology.context.lead_index) == held(topology)


def scan(topology: Topology, stage: str | None, temperature: str | None, limit: int,
         now: float) -> list[tuple[int, float]]:
    """The list as the worker built it before the index (every lead decoded, sorted by hotness), as ranks.

    Leads of equal temperature and score may come in either order, so lists compare by rank.
    """
    model = topology.context.model()
    documents = [lead_document(state, model, now) for key, value in topology.context.leads.data.items()
                 if (state := stored_state(key, value)) is not None
                 and stage in (None, state.stage.value) and temperature in (None, state.temperature.value)]
    documents.sort(key=hotness, reverse=True)
    return [hotness(d) for d in documents[:limit]]


def ranked(topology: Topology, stage: str | None, temperature: str | None, limit: int, now: float,
           decoded: list[bytes] | None = None) -> list[dict]:
    model = topology.context.model()

    def decode(key: bytes):
        if decoded is not None:
            decoded.append(key)
        state = stored_state(key, topology.context.leads.data.get(key))
        document = lead_document(state, model, now)
        return document["score"]["total"], document

    return topology.context.lead_index.ranked(ALL, stage, temperature, limit, now, half_lives(model), decode)


def many_leads(topology: Topology, count: int, seed: int = 7) -> None:
    """``count`` leads with random behaviour over two weeks: every temperature, capped kinds, negatives."""
    chosen = random.Random(seed)
    events = []
    for n in range(count):
        lead = f"lead-{n}"
        start = chosen.uniform(0, 14 * 24 * 60)
        events.append(identify(lead, f"{lead}-id", f"{lead}@acme.io", minutes=start - 20_000))
        for step in range(chosen.randint(0, 7)):
            kind, what = chosen.choice(BEHAVIOUR)
            minutes = start - 20_000 + step * chosen.uniform(1, 600)
            event = track(lead, f"{lead}-{step}", what, minutes) if kind == "track" else \
                page(lead, f"{lead}-{step}", what, minutes)
            events.append(event)
        if chosen.random() < 0.2:
            events.append(answers(lead, f"{lead}-bant", start - 19_000, budget="yes", authority="yes", need="yes",
                                  timeline="Q1"))
    run(lambda: topology.send(*events))


def test_the_index_follows_a_lead_up_the_stages_and_through_its_erasure():
    topology = Topology()
    journey = hot_journey("hana", "hana@acme.io")
    for event in journey:
        run(lambda: topology.send(event))
        in_step(topology)
    assert topology.context.lead_index.keys(partition_for(b"hana", PARTITIONS)) == {b"hana": ("sql", "hot")}

    run(lambda: topology.command(b"hana", command_records.encode_command(
        command_records.ERASE, "hana", NOW.timestamp())))

    in_step(topology)
    assert len(topology.context.lead_index) == 0


def test_a_demotion_moves_the_lead_to_its_new_band():
    clock = MovableClock(NOW.timestamp())
    topology = Topology(worker_context(clock=clock))
    run(lambda: topology.send(*hot_journey("cole", "cole@acme.io")))
    due = next_demotion(topology.stored("cole"), topology.context.model())
    clock.at = due
    run(lambda: topology.command(b"cole", command_records.encode_command(
        command_records.DECAY, "cole", clock.now(), due=due)))

    temperature = topology.stored("cole").temperature.value
    assert temperature != "hot"
    in_step(topology)
    assert ranked(topology, None, "hot", 10, clock.now()) == []
    assert [d["lead_id"] for d in ranked(topology, None, temperature, 10, clock.now())] == ["cole"]


def test_a_recovery_rebuilds_the_same_index_and_forgets_partitions_no_longer_owned():
    topology = Topology()
    many_leads(topology, 60)
    kept = {0, 2}
    recovered = worker_context()
    recovered.leads.data.update(topology.context.leads.data)  # what the changelog restores

    asyncio.run(pipeline.recount_leads(recovered, ALL))
    assert indexed(recovered.lead_index) == indexed(topology.context.lead_index) == held(topology)
    asyncio.run(pipeline.recount_leads(recovered, kept))  # a rebalance took partitions 1 and 3 away

    assert recovered.lead_index.partitions() == kept
    assert indexed(recovered.lead_index, kept) == held(topology, kept)
    assert all(partition_for(key, PARTITIONS) in kept for partition in kept
               for key in recovered.lead_index.keys(partition))


def test_the_bounds_hold_the_lead_total_at_every_later_time():
    topology = Topology()
    many_leads(topology, 80)
    model = topology.context.model()
    lives = half_lives(model)
    for key, value in topology.context.leads.data.items():
        state = stored_state(key, value)
        entry = standing(state, model)
        for days in (0, 1, 3, 10, 40, 200):
            now = NOW.timestamp() + days * 86_400
            total = lead_document(state, model, now)["score"]["total"]
            low, high = bounds(entry, now, lives)
            assert low - 1e-3 <= total <= high + 1e-3, (key, days, low, total, high)


def test_the_ranking_is_the_full_scans_and_decodes_about_the_limit():
    topology = Topology()
    many_leads(topology, 300)
    everything = len(topology.context.leads.data)
    for days in (0, 2, 9, 30):
        now = (NOW + timedelta(days=days)).timestamp()
        for stage, temperature, limit in ((None, None, 10), (None, None, 1000), ("mql", None, 5),
                                          (None, "hot", 50), (None, "cold", 20), ("disqualified", None, 3)):
            decoded: list[bytes] = []
            listed = ranked(topology, stage, temperature, limit, now, decoded)
            assert [hotness(d) for d in listed] == scan(topology, stage, temperature, limit, now), \
                (days, stage, temperature, limit)
            assert all(stage in (None, d["stage"]) and temperature in (None, d["temperature"]) for d in listed)
            if limit <= 20:
                assert len(decoded) <= 2 * limit + 5 < everything, (days, stage, temperature, len(decoded))


def test_an_entry_is_small(capsys):
    """What the index costs per lead held, beside the ~2 KB the lead's record costs (docs/operations.md)."""
    topology = Topology()
    many_leads(topology, 50)
    model = topology.context.model()
    samples = [(key, bucket(state), standing(state, model)) for key, value in topology.context.leads.data.items()
               if (state := stored_state(key, value)) is not None]
    count = 20_000
    keys = [f"lead-{n:06d}@example.com".encode() for n in range(count)]  # the table holds these already
    index = LeadIndex()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n, key in enumerate(keys):
        _, where, entry = samples[n % len(samples)]
        index.put(n % PARTITIONS, key, None, where, bytes(bytearray(entry)))  # one object per lead, as written
    per_lead = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()
    with capsys.disabled():
        print(f"\nlead index: {per_lead:.0f} bytes per lead")
    assert len(index) == count
    assert per_lead < 200


def test_leads_tied_on_a_known_score_are_not_decoded_to_be_ranked():
    """Identified leads with nothing scored yet all stand at 0: a list of 5 reads 5 of them, not all 200."""
    topology = Topology()
    run(lambda: topology.send(*(identify(f"quiet-{n}", f"quiet-{n}-1", f"q{n}@acme.io") for n in range(200))))
    decoded: list[bytes] = []
    listed = ranked(topology, None, None, 5, NOW.timestamp(), decoded)
    assert len(listed) == 5 and len(decoded) == 5
    assert [hotness(d) for d in listed] == scan(topology, None, None, 5, NOW.timestamp())
