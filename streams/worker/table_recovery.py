"""Faust's table recovery with one race closed: a new assignment while the last one's recovery is under way.

A worker still reading its changelogs when another joins gets a new assignment in the middle of that
recovery. Faust swaps the new partitions into the round already running, which can then go on to seek
standby partitions whose offsets it never read; aiokafka refuses a seek without an offset, and that
stops the worker. Here a round whose assignment was replaced gives way to the next round before any
seek, as Faust does itself at its other checkpoints.
"""

from __future__ import annotations

from typing import Any

from faust.tables.manager import TableManager
from faust.tables.recovery import RebalanceAgain, Recovery


class ReassignmentSafeRecovery(Recovery):
    async def _seek_offsets(self, consumer: Any, tps: Any, offsets: Any, title: str) -> None:
        if self.signal_recovery_start.is_set():
            raise RebalanceAgain()  # the partitions changed under this round: the next round reads their offsets
        await super()._seek_offsets(consumer, tps, offsets, title)


class LeadstreamTableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = ReassignmentSafeRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
