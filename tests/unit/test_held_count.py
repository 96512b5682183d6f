"""Held anonymous events per partition: a rebalance tells what was taken over and what handed over."""

from __future__ import annotations

from streams.worker.census import HeldCount


def test_a_first_recount_takes_over_everything_the_owned_partitions_hold():
    count = HeldCount()

    assert count.rebuild([(0, 3), (1, 2), (2, 5)], active={0, 1}) == (5, 0)
    assert count.total() == 5  # partition 2 is a standby copy: not counted


def test_a_rebalance_hands_over_lost_partitions_and_takes_over_new_ones():
    count = HeldCount()
    count.rebuild([(0, 3), (1, 2)], active={0, 1})
    count.moved(1, 2, 3)  # a visitor of partition 1 holds one event more

    assert count.rebuild([(0, 3), (1, 3), (2, 4)], active={0, 2}) == (4, 3)
    assert count.total() == 7


def test_a_partition_kept_across_a_rebalance_moves_nothing():
    count = HeldCount()
    count.rebuild([(0, 3)], active={0})

    assert count.rebuild([(0, 3)], active={0}) == (0, 0)
