"""Table recovery when a new assignment arrives during the last one's recovery (a second worker joining)."""

from __future__ import annotations

import faust
import pytest
from faust.tables.recovery import RebalanceAgain
from faust.types import TP

from streams.config.environment import settings_from
from streams.worker.faust_settings import apply_settings
from streams.worker.table_recovery import ReassignmentSafeRecovery


class SeekingConsumer:
    """Stands in for Faust's consumer thread: records the offsets a recovery round seeks to."""

    def __init__(self) -> None:
        self.sought: list[dict[TP, int]] = []

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.sought.append(dict(offsets))


def _recovery(tmp_path) -> ReassignmentSafeRecovery:
    app = faust.App("table-recovery-test")
    apply_settings(app.conf, settings_from({"LEADSTREAM_DATA_DIR": str(tmp_path)}))
    recovery = app.tables.recovery
    assert isinstance(recovery, ReassignmentSafeRecovery)  # what every leadstream app gets
    return recovery


async def test_a_round_whose_assignment_was_replaced_gives_way_to_the_next_instead_of_seeking(tmp_path):
    recovery = _recovery(tmp_path)
    consumer = SeekingConsumer()
    standby = TP("leadstream-leads-changelog", 3)
    # The new assignment added a standby partition whose offset this round never read.
    recovery.signal_recovery_start.set()
    with pytest.raises(RebalanceAgain):
        await recovery._seek_offsets(consumer, {standby}, {standby: None}, "standby")
    assert consumer.sought == []


async def test_a_round_still_current_seeks_each_partition_to_its_offset(tmp_path):
    recovery = _recovery(tmp_path)
    consumer = SeekingConsumer()
    read, empty = TP("leadstream-leads-changelog", 0), TP("leadstream-leads-changelog", 1)
    await recovery._seek_offsets(consumer, {read, empty}, {read: 41, empty: -1}, "active")
    assert consumer.sought == [{read: 41, empty: 0}]
