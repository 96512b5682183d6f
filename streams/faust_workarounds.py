"""Two faust-streaming behaviours the worker must not have, corrected on its own consumer and producer.

Both are instance-level changes made where the app builds its consumer and producer
(``streams.app.LeadstreamApp``); the tests that caught them are named beside each.
"""

from __future__ import annotations

from faust.types import TP, ConsumerT, ProducerT


def keep_fetching_every_partition(consumer: ConsumerT) -> None:
    """Under buffer pressure, hold every partition back alike instead of dropping one from fetching.

    When a stream's buffer nears full, Faust stops fetching the partition whose record crossed
    the mark and resumes it on a pressure-drop callback that can be lost: one raw partition then
    starved until every other one was drained, or for good after a takeover (faust-streaming
    issues 166 and 471; tests/integration/test_batch_recovery.py). Without it a full buffer still
    holds the consumer back, as the conductor awaits room in the buffer.
    """
    def keep_fetching(tp: TP) -> None:
        """Stands in for ``Consumer.on_buffer_full``: no partition is dropped from fetching."""

    consumer.on_buffer_full = keep_fetching  # type: ignore[method-assign]


def flush_the_whole_buffer(producer: ProducerT) -> None:
    """Make ``producer.flush()`` (which every offset commit awaits first) drain Faust's buffer for good.

    Faust's buffer of records waiting to be produced (table changelog writes among them) gives
    up flushing when no record has left it for 0.1 s, and the commit then goes ahead: a crash
    right after loses changelog records of events whose offsets were committed, a lost update
    (faust-streaming issue 606's kind; tests/integration/test_batch_recovery.py). A take()
    batch puts hundreds of records in it at once, so a 0.1 s pause under load is ordinary.
    """
    buffer = producer.buffer
    flush_for_a_while = buffer.flush

    async def flush() -> None:
        while buffer.size:  # a stopped producer's flush raises instead of looping
            await flush_for_a_while()

    buffer.flush = flush  # type: ignore[method-assign]
