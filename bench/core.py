"""Per-event CPU cost of the worker's pure steps, outside Faust and Kafka.

Run: python -m bench.core [--leads 2000] [--events 20000] [--rounds 3]
Generates a seeded workload of Segment-style events (~370 bytes: mostly page and track, some
identify with traits and forms with criteria answers, a few bots, malformed payloads and
redeliveries) and runs each through the sequence ``streams/worker/pipeline.py`` runs on its partition:
``ingest`` (truncate IPs, decode, interpret), ``score`` (decode the held state, apply),
``store`` (encode the state, next demotion), the history (opened, added to, encoded, as a batch does) and
``report_to_account`` (the member summary). States and histories are held as bytes in dicts,
as the tables hold them. Anonymous events stop after interpret: the visitor's partition holds
them (stitching is not measured here).

Prints µs per received event for each step and in total, beside a baseline measured in the same
run (``orjson.loads`` of each raw event), and a fingerprint of every result: two versions of the
code that print the same fingerprint scored the workload identically.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

from scoring import Ignored, LeadState, ScoringModel, Signal, apply, interpret, load_model
from scoring.account_members import account_member
from scoring.crossing import next_demotion
from scoring.history import History
from streams.contracts import change_records, history_records, lead_records, privacy
from streams.worker.history_draft import HistoryDraft
from streams.contracts.segment import Rejection, decode_segment

START = 1_760_000_000.0
SPAN_S = 60 * 86_400.0  # the workload's events spread over two months: decay matters
MAX_EVENT_BYTES = 32 * 1024  # the worker's default LEADSTREAM_MAX_EVENT_BYTES
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGES = ("/", "/blog/lead-scoring", "/blog/intent-data", "/product", "/features/scoring", "/pricing",
         "/pricing/enterprise", "/about", "/careers", "/docs/getting-started")
TRACKS = ("Email Opened", "Email Link Clicked", "Webinar Registered", "Case Study Downloaded",
          "Whitepaper Downloaded", "Feature Used", "Trial Started", "Button Clicked", "Email Unsubscribed")
DOMAINS = ("acme.io", "globex.com", "initech.com", "umbrella.co", "hooli.com", "stark.io", "wayne.co",
           "wonka.com", "gmail.com", "state.edu", "rivalscore.com")
TITLES = ("Marketing Manager", "VP Engineering", "CTO", "Head of Sales Ops", "Analyst", "Student")
INDUSTRIES = ("software", "saas", "fintech", "manufacturing", "retail")
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN")
STEPS = ("truncate_ips", "decode_segment", "interpret", "decode_state", "apply", "encode_state",
         "next_demotion", "history_open", "history_record", "history_encode", "account_member")


@dataclass(frozen=True)
class Record:
    value: bytes
    timestamp: float  # the broker's receipt time


def workload(leads: int, events: int, seed: int) -> list[Record]:
    """``events`` records over ``leads`` leads, in receipt order; a few arrive late or twice."""
    rng = random.Random(seed)
    records: list[tuple[float, bytes]] = []
    for _ in range(events):
        lead = rng.randrange(leads)
        at = START + rng.random() * SPAN_S
        records.append((at + rng.uniform(0.05, 2.0), _event(rng, lead, at, len(records))))
        if rng.random() < 0.02:  # a tracker retried: the same bytes again, a little later
            records.append((records[-1][0] + rng.uniform(0.1, 30.0), records[-1][1]))
    records.sort()
    for n in range(0, len(records) - 1, 40):  # late arrivals: received after later events
        records[n], records[n + 1] = records[n + 1], records[n]
    return [Record(value, received) for received, value in records]


def _event(rng: random.Random, lead: int, at: float, n: int) -> bytes:
    draw = rng.random()
    if draw < 0.01:
        return b'{"type": "page", "messageId": "tr'  # cut off in transit
    identity: dict[str, Any] = {"anonymousId": f"anon-{lead:05d}-{rng.randrange(3)}"}
    if rng.random() < 0.9:
        identity["userId"] = f"user-{lead:05d}"
    message: dict[str, Any] = {
        "messageId": f"m-{n:07d}",
        **identity,
        "timestamp": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds"),
        "context": {"userAgent": CRAWLER if draw < 0.03 else BROWSER, "ip": f"198.51.{lead % 250}.{n % 250}"},
    }
    if draw < 0.60:
        path = rng.choice(PAGES)
        message.update(type="page", properties={"path": path, "url": f"https://example.com{path}"})
    elif draw < 0.86:
        message.update(type="track", event=rng.choice(TRACKS), properties={"source": "web"})
    elif draw < 0.93:
        message.update(type="identify", traits={
            "email": f"user-{lead:05d}@{DOMAINS[lead % len(DOMAINS)]}", "title": rng.choice(TITLES),
            "industry": rng.choice(INDUSTRIES), "employees": rng.choice((12, 80, 250, "1,200", "50-200")),
            "country": rng.choice(COUNTRIES), "name": f"Lead {lead}"})
    else:
        name = rng.choice(("Demo Requested", "Contact Form Submitted", "Survey Answered"))
        message.update(type="track", event=name, properties={
            "need": rng.choice(("yes", "no", "not sure")), "decision_maker": rng.random() < 0.7,
            "budget_confirmed": rng.choice(("yes", "TBD", "$50k")), "purchase_timeline": "this quarter"})
    return orjson.dumps(message)


@dataclass
class Run:
    """One pass over the workload: the time each step took, and a digest of every result."""

    spent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("baseline", *STEPS), 0))
    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("baseline", *STEPS), 0))
    digest: Any = field(default_factory=hashlib.sha256)
    outcomes: dict[str, int] = field(default_factory=dict)

    def timed(self, step: str, call: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter_ns()
        result = call(*args)
        self.spent[step] += time.perf_counter_ns() - started
        self.calls[step] += 1
        return result

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def note(self, *parts: Any) -> None:
        self.digest.update(repr(parts).encode())


def run(records: list[Record], model: ScoringModel) -> Run:
    """The pipeline's per-event work, step by step, on tables held as bytes."""
    measured = Run()
    leads: dict[bytes, bytes] = {}
    histories: dict[bytes, bytes] = {}
    for record_ in records:
        measured.timed("baseline", _loads, record_.value)
        raw = measured.timed("truncate_ips", privacy.truncate_ips, record_.value)
        decoded = measured.timed("decode_segment", decode_segment, raw, record_.timestamp, MAX_EVENT_BYTES)
        if isinstance(decoded, Rejection):
            measured.count("dead_lettered")
            continue
        signal = measured.timed("interpret", interpret, decoded, model)
        if isinstance(signal, Ignored):
            measured.count(f"ignored {signal.reason.value}")
            continue
        if signal.anonymous:
            measured.count("held")  # on the visitor's partition, until identify links it
            continue
        _score(measured, signal, model, leads, histories)
    for key in sorted(leads):
        state = lead_records.decode_state(key.decode(), leads[key])
        measured.note(_state_fingerprint(state), _history_fingerprint(history_records.decode_history(histories[key])))
    return measured


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _score(measured: Run, signal: Signal, model: ScoringModel, leads: dict[bytes, bytes],
           histories: dict[bytes, bytes]) -> None:
    key = signal.lead_id.encode()
    held = leads.get(key)
    state = measured.timed("decode_state", lead_records.decode_state, key.decode(), held) if held else None
    decision = measured.timed("apply", apply, state, signal, model)
    if decision.duplicate:
        measured.count("deduplicated")
        measured.note("duplicate", signal.event_id, _change_fingerprint(decision.change))
        return
    measured.count("scored")
    leads[key] = measured.timed("encode_state", lead_records.encode_state, decision.state)
    due = measured.timed("next_demotion", next_demotion, decision.state, model)
    history = measured.timed("history_open", HistoryDraft, histories.get(key, b""), state)
    measured.timed("history_record", history.record, signal, decision.change, model)
    histories[key] = measured.timed("history_encode", history.encode)
    member = measured.timed("account_member", account_member, decision.state, signal.event_id, model,
                            decision.assessment)
    measured.note(signal.event_id, due, _change_fingerprint(decision.change),
                  member and (member.interest, member.intent, member.as_of, member.role,
                              sorted(member.criteria_met)))


def _change_fingerprint(change: Any) -> Any:
    return change and change_records.change_to_dict(change, 0.0, None)


def _state_fingerprint(state: LeadState) -> Any:
    return (
        state.lead_id, state.identified, state.as_of,
        sorted((kind, t.decayed, t.count, t.last_at) for kind, t in state.tallies.items()),
        sorted((name, fact.value, fact.stated_at) for name, fact in state.profile.items()),
        sorted((name, a.status.value, a.stated_at) for name, a in state.answers.items()),
        (state.levels.mql, state.levels.sql, state.levels.pql, state.levels.warm),
        state.stage.value, state.temperature.value, state.rejected_at, state.sequence, tuple(state.recent_event_ids),
        [(h, _change_fingerprint(c)) for h, c in state.recent_changes],
    )


def _history_fingerprint(history: History) -> Any:
    return (
        history.since, sorted(history.folded.items()), history.folded_events,
        [(e.at, e.kind, sorted((c, s.value) for c, s in e.answers.items()), tuple(e.profile_fields))
         for e in history.events],
        [(m.at, m.from_stage.value, m.to_stage.value, m.from_temperature.value, m.to_temperature.value, m.cause,
          m.total) for m in history.moves],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the workload; the fastest counts")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    model = load_model()
    records = workload(args.leads, args.events, args.seed)
    run(records[:2_000], model)  # warm up caches and the allocator
    runs = []
    for _ in range(args.rounds):
        gc.collect()
        runs.append(run(records, model))
    fingerprints = {measured.digest.hexdigest() for measured in runs}
    assert len(fingerprints) == 1, "the same workload scored differently between rounds"
    best = {step: min(measured.spent[step] for measured in runs) for step in ("baseline", *STEPS)}
    total = sum(best[step] for step in STEPS)
    received = len(records)
    mean_bytes = sum(len(r.value) for r in records) / received
    print(f"pure per-event work: {received:,} events ({mean_bytes:.0f} B mean) over {args.leads:,} leads, "
          f"fastest of {args.rounds} rounds")
    print("outcomes: " + ", ".join(f"{name} {n:,}" for name, n in sorted(runs[0].outcomes.items())))
    print(f"{'step':<16} {'calls':>7} {'µs/event':>9} {'share':>7} {'÷ baseline':>11}")
    for step in STEPS:
        print(f"{step:<16} {runs[0].calls[step]:>7,} {best[step] / received / 1e3:>9.2f} {best[step] / total:>6.0%}"
              f" {best[step] / best['baseline']:>10.1f}x")
    print(f"{'total':<16} {'':>7} {total / received / 1e3:>9.2f} {'':>7} {total / best['baseline']:>10.1f}x")
    print(f"{'baseline':<16} {runs[0].calls['baseline']:>7,} {best['baseline'] / received / 1e3:>9.2f}"
          "   (orjson.loads of the raw event)")
    print(f"fingerprint: {fingerprints.pop()[:16]}")


if __name__ == "__main__":
    main()
