"""Leads per stage and temperature, kept per partition so a rebalance can drop or rebuild its share.

Scanning the table on every scrape would cost O(leads); instead every state write updates the
count of the lead's partition; after each recovery the partitions newly owned are counted from the
table and those lost dropped (standby copies are not counted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scoring import LeadState

Bucket = tuple[str, str]  # (stage, temperature)


def bucket(state: LeadState) -> Bucket:
    return state.stage.value, state.temperature.value


class LeadCensus:
    def __init__(self, table_size: Callable[[], int]) -> None:
        self._by_partition: dict[int, Counter[Bucket]] = {}
        self.table_size = table_size

    def moved(self, partition: int, before: Bucket | None, after: Bucket) -> None:
        counts = self._by_partition.setdefault(partition, Counter())
        if before is not None:
            counts[before] -= 1
        counts[after] += 1

    def removed(self, partition: int, bucket: Bucket) -> None:
        self._by_partition.setdefault(partition, Counter())[bucket] -= 1

    def replace_partitions(self, counted: dict[int, Counter[Bucket]], active: set[int]) -> None:
        """After a recovery: the counts of the partitions in ``counted`` (read from the table) replace theirs,
        the other ``active`` partitions keep their counts, and the partitions no longer owned go."""
        self._by_partition = {partition: counted[partition] if partition in counted else self._by_partition.get(
            partition, Counter()) for partition in active}

    def totals(self) -> Counter[Bucket]:
        total: Counter[Bucket] = Counter()
        for counts in self._by_partition.values():
            total.update(counts)
        return +total  # drops zero and negative entries

    def per_stage(self) -> dict[str, int]:
        return _sum_by(self.totals(), 0)

    def per_temperature(self) -> dict[str, int]:
        return _sum_by(self.totals(), 1)


def _sum_by(totals: Counter[Bucket], index: int) -> dict[str, int]:
    summed: Counter[str] = Counter()
    for bucket, count in totals.items():
        summed[bucket[index]] += count
    return dict(sorted(summed.items()))


class HeldCount:
    """Anonymous events held, and visitors holding any, per partition, for the partitions this worker actively owns.

    A rebalance moves held events between workers: what a recount finds in partitions newly
    owned was taken over, what partitions no longer owned held was handed over. The event
    accounting counts both, so each worker's own sum still adds up after a restart or rebalance.
    """

    def __init__(self) -> None:
        self._by_partition: dict[int, int] = {}
        self._holding: dict[int, int] = {}  # visitors holding at least one event

    def moved(self, partition: int, before: int, after: int) -> None:
        """A visitor of ``partition`` held ``before`` events and now holds ``after``."""
        self._by_partition[partition] = self._by_partition.get(partition, 0) + after - before
        if (after > 0) != (before > 0):
            self._holding[partition] = self._holding.get(partition, 0) + (1 if after else -1)

    def total(self) -> int:
        return sum(self._by_partition.values())

    def holding(self, active: set[int]) -> int:
        """Visitors holding events in the partitions of ``active``: the board's "New (anonymous)"."""
        return sum(count for partition, count in self._holding.items() if partition in active)

    def rebuild(self, held: Iterable[tuple[int, int]], active: set[int]) -> tuple[int, int]:
        """Recount from the table (``held`` yields (partition, events) per visitor); returns (taken over, handed over)."""
        counts = {partition: 0 for partition in active}
        holding = dict(counts)
        for partition, events in held:
            if partition in counts and events:
                counts[partition] += events
                holding[partition] += 1
        before = self._by_partition
        taken_over = sum(count for partition, count in counts.items() if partition not in before)
        handed_over = sum(count for partition, count in before.items() if partition not in counts)
        self._by_partition, self._holding = counts, holding
        return taken_over, handed_over


class CensusMetrics(Collector):
    def __init__(self, census: LeadCensus) -> None:
        self.census = census

    def collect(self) -> Iterator[GaugeMetricFamily]:
        leads = GaugeMetricFamily("leadstream_leads", "Leads held by this worker's active partitions",
                                  labels=["stage", "temperature"])
        for (stage, temperature), count in sorted(self.census.totals().items()):
            leads.add_metric([stage, temperature], count)
        yield leads
        keys = GaugeMetricFamily("leadstream_table_keys", "Keys in a table's local store, standbys included",
                                 labels=["table"])
        keys.add_metric(["leads"], self.census.table_size())
        yield keys

