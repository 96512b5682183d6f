"""The profile report puts a worker's main-thread samples under the stage they were spent in."""

from __future__ import annotations

from pathlib import Path

from bench.profile_report import report

AGENT = "thread (1): MainThread;run_forever (asyncio/base_events.py:608);handle_batches (streams/worker/agents.py:25)"


def share(lines: list[str], name: str) -> float:
    shares = {label.strip(): float(value) for value, label in (line.split("%", 1) for line in lines if "%" in line)}
    return shares[name]


def test_samples_are_shared_out_by_stage_and_other_threads_are_left_out(tmp_path: Path):
    folded = tmp_path / "worker.folded"
    folded.write_text("\n".join([
        f"{AGENT};ingest (streams/worker/pipeline.py:83);ingest_one (streams/worker/pipeline.py:127);"
        "route (streams/worker/pipeline.py:154);score (streams/worker/pipeline.py:164);apply (scoring/arrival.py:42) 6",
        f"{AGENT};ingest (streams/worker/pipeline.py:84);Batch.flush (streams/worker/batch.py:136);"
        "Batch._write (streams/worker/batch.py:170) 2",
        "thread (1): MainThread;run_forever (asyncio/base_events.py:608);"
        "Stream._passive_drainer (faust/streams.py:853) 1",
        "thread (1): MainThread;run_forever (asyncio/base_events.py:608);EpollSelector.select (selectors.py:468) 1",
        "thread (2): AIOKafkaConsumerThread;run_forever (asyncio/base_events.py:608);"
        "EpollSelector.select (selectors.py:468) 90",
    ]) + "\n")

    lines = report(str(folded))

    assert lines[0] == "10 samples of the main thread"
    assert share(lines, "the batch task (streams/worker/agents.py: each topic's batches through the pipeline)") == 80.0
    assert share(lines, "scoring.apply: decay, fit, criteria, stages, late re-derivation") == 60.0
    assert share(lines, "Batch._write: records, demotion time, census, account member") == 20.0
    assert share(lines, "Faust take(): the background fill of its buffer") == 10.0
    assert share(lines, "idle (waiting in select)") == 10.0
    assert share(lines, "Faust fetcher: consumer drain and conductor, per message") == 0.0
