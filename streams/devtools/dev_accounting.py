"""The end of a ``leadstream dev`` run: does every event add up, and if not, which sum fails and why.

Three sums are checked (docs/design.md §3), each on its own:
- the collector's: received = accepted + rejected + consent refused;
- the worker's: received = scored + ignored + deduplicated + dead-lettered + held (+ handed over);
- the hand-offs: the collector received at least what the simulator sent, and the worker at
  least what the collector accepted.
Events that did not come from the simulator (sent by hand to the collector, or produced
straight to Kafka) make the hand-offs larger, never smaller: they are counted as such and are
no alarm. Fewer than were handed on is one: events were lost or the run stopped before they arrived.
"""

from __future__ import annotations

from typing import Any

WORKER_BUCKETS = ("scored", "ignored", "deduplicated", "dead_lettered", "held", "handed_over")
COLLECTOR_BUCKETS = ("accepted", "rejected", "consent_refused")


def _sum(document: dict[str, Any], names: tuple[str, ...]) -> int:
    return sum(int(document.get(name) or 0) for name in names)


def accounting_verdict(events_sent: int, intake: dict[str, Any], accounting: dict[str, Any]) -> dict[str, Any]:
    """What adds up, what does not (each with its why), and the events that came from elsewhere."""
    problems = []
    collector_received, accepted = int(intake.get("received") or 0), int(intake.get("accepted") or 0)
    worker_received = int(accounting.get("received") or 0)
    if collector_received != _sum(intake, COLLECTOR_BUCKETS):
        problems.append(f"the collector's sum: received {collector_received} ≠ accepted + rejected + consent refused"
                        f" {_sum(intake, COLLECTOR_BUCKETS)}: an event it read is in no bucket")
    if worker_received != _sum(accounting, WORKER_BUCKETS):
        problems.append(f"the worker's sum: received {worker_received} ≠ its buckets {_sum(accounting, WORKER_BUCKETS)}:"
                        f" {worker_received - _sum(accounting, WORKER_BUCKETS)} read but in no bucket when the"
                        " run ended (its log says more)")
    if collector_received < events_sent:
        problems.append(f"simulator → collector: sent {events_sent}, the collector received {collector_received}:"
                        f" {events_sent - collector_received} never reached it (see its log)")
    if worker_received < accepted:
        problems.append(f"collector → worker: the collector accepted {accepted}, the worker received"
                        f" {worker_received}: {accepted - worker_received} not (yet) read from Kafka when the run"
                        " ended (the drain waits 45 s; see the worker's log)")
    return {
        "adds_up": not problems,
        "problems": problems,
        # Not from the simulator: sent by hand to the collector, or produced to Kafka past it.
        "from_elsewhere": {"to_collector": max(0, collector_received - events_sent),
                           "to_kafka": max(0, worker_received - accepted)},
    }


def print_accounting(summary: dict[str, Any]) -> None:
    a, c, elsewhere = summary["accounting"], summary["collector"], summary["from_elsewhere"]
    print(f"events sent {summary['events_sent']} by the simulator in {summary['duration_s']} s"
          f" ({summary['events_per_second']}/s)")
    if elsewhere["to_collector"] or elsewhere["to_kafka"]:
        print(f"events not from the simulator: {elsewhere['to_collector']} sent to the collector by someone else,"
              f" {elsewhere['to_kafka']} produced to Kafka past it (counted below, no alarm)")
    print(
        f"collector received {c.get('received')} = accepted {c.get('accepted')} + rejected {c.get('rejected')} "
        f"{c.get('rejected_by_reason')} + consent refused {c.get('consent_refused')}"
    )
    handed_over = f" + handed over {a['handed_over']}" if a.get("handed_over") else ""
    print(
        f"worker received {a.get('received')} = scored {a.get('scored')} + ignored {a.get('ignored')} "
        f"{a.get('ignored_by_reason')} + deduplicated {a.get('deduplicated')} + dead-lettered "
        f"{a.get('dead_lettered')} {a.get('dead_lettered_by_reason')} + held {a.get('held')}{handed_over}"
    )
    if summary["adds_up"]:
        print("accounting adds up: every event is in one bucket, and every hand-off is whole")
    else:
        print("accounting DOES NOT ADD UP:")
        for problem in summary["problems"]:
            print(f"  - {problem}")
