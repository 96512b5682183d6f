"""Where a worker's main thread spends its time, from a py-spy "raw" (folded) profile.

    py-spy record --threads --idle -r 100 -d 45 -f raw -o worker.folded -p <worker pid>
    python -m bench.profile_report worker.folded

Each line is the share of the main thread's samples whose stack contains the named frame;
nested lines are parts of the line above, and lines can overlap (a table write is part of
the batch task). py-spy samples a thread waiting for a CPU as running, so on a busy machine
the shares are of wall time on the main thread, not of CPU time.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

Stack = list[str]


def _has(name: str) -> Callable[[Stack], bool]:
    return lambda frames: any(name in frame for frame in frames)


CATEGORIES: list[tuple[str, Callable[[Stack], bool]]] = [
    ("the batch task (streams/worker/agents.py: each topic's batches through the pipeline)", _has("(streams/worker/agents.py")),
    ("  ingest_one: each event, bytes to decision", _has("ingest_one (streams/worker/pipeline.py")),
    ("    truncate_ips: client IPs cut short", _has("truncate_ips (streams/contracts/privacy.py")),
    ("    decode_segment: JSON and Segment checks", _has("decode_segment (")),
    ("    interpret: bot check, event mapping", _has("interpret (scoring/signals.py")),
    ("    score: a known lead's event", _has("score (streams/worker/pipeline.py")),
    ("      the lead's state read (lead_records.decode_state)", _has("decode_state (")),
    ("      scoring.apply: decay, fit, criteria, stages, late re-derivation", _has("apply (scoring/arrival.py")),
    ("      the lead's history (board timeline)", _has("(streams/worker/history_draft.py")),
    ("    stitching.hold: an anonymous visitor's event", _has("hold (streams/worker/stitching.py")),
    ("  Batch.flush: once per touched lead and batch", _has("Batch.flush (streams/worker/batch.py")),
    ("    Batch._write: records, demotion time, census, account member", _has("Batch._write (streams/worker/batch.py")),
    ("      next_demotion (scoring/crossing.py)", _has("next_demotion (scoring/crossing.py")),
    ("      lead_records.encode_state", _has("encode_state (")),
    ("    TableWrites.produce: changelog records to the client", _has("TableWrites.produce (")),
    ("    qualification changes emitted", _has("_emit (streams/worker/batch.py")),
    ("  account roll-up (accounts.members)", _has("score_accounts (streams/worker/pipeline.py")),
    ("bulk intake: the fetch loop queueing records (streams/worker/bulk_intake.py)", _has("_drain_in_bulk (streams/")),
    ("Faust take(): the background fill of its buffer", _has("Stream._passive_drainer")),
    ("Faust stream iteration (take, queue, sensors)", _has("Stream._c_aiter")),
    ("Faust fetcher: consumer drain and conductor, per message", _has("Fetcher._fetcher (faust")),
    ("Faust ProducerBuffer (records sent through Faust)", _has("_handle_pending")),
    ("aiokafka Sender (produce requests)", _has("Sender._")),
    ("  socket writes", lambda frames: any("Sender._" in f for f in frames)
     and "_SelectorSocketTransport.write" in frames[-1]),
    ("web: GET /accounting", _has("accounting (streams/api/health.py")),
    ("aiokafka fetch responses", _has("AIOKafkaConnection._read")),
    ("idle (waiting in select)", lambda frames: "EpollSelector.select" in frames[-1]),
]


def report(path: str, top: int = 12) -> list[str]:
    stacks: list[tuple[Stack, int]] = []
    with open(path) as folded:
        for line in folded:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if "MainThread" in frames[0]:
                stacks.append((frames, int(count)))
    total = sum(count for _, count in stacks) or 1
    lines = [f"{total} samples of the main thread"]
    for name, matches in CATEGORIES:
        share = 100 * sum(count for frames, count in stacks if matches(frames)) / total
        lines.append(f"{share:5.1f}%  {name}")
    own: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
    lines.append("top self time:")
    lines += [f"{100 * count / total:5.1f}%  {frame}" for frame, count in own.most_common(top)]
    return lines


if __name__ == "__main__":
    print("\n".join(report(sys.argv[1])))
