"""LEADSTREAM_CLOCK: one scaled clock read alike by every process of a demo, and refused when it cannot work."""

from __future__ import annotations

import time

import pytest

from streams.collector.config import collector_settings_from
from streams.config.clock import clock_from
from streams.config.environment import settings_from
from streams.errors import ConfigError

ORIGIN = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_a_scaled_clock_with_an_origin_reads_the_same_in_every_process_that_is_given_it():
    worker, collector = settings_from({"LEADSTREAM_CLOCK": f"scaled:86400@{ORIGIN}"}).clock, \
        collector_settings_from({"LEADSTREAM_CLOCK": f"scaled:86400@{ORIGIN}"}).clock
    one_second_later = ORIGIN + 1.0
    assert worker.at_wall(one_second_later) == collector.at_wall(one_second_later) == ORIGIN + 86_400.0
    assert worker.wall_at(ORIGIN + 2 * 86_400.0) == pytest.approx(ORIGIN + 2.0)
    assert clock_from(worker.setting()) == worker  # what dev hands its children is the clock itself


def test_a_scaled_clock_runs_ahead_of_the_wall_by_its_speed():
    clock = clock_from("scaled:1000")
    wall_before, reading = time.time(), clock.now()
    assert reading >= wall_before
    time.sleep(0.01)
    assert clock.now() - reading >= 10.0 * 0.999  # ten wall milliseconds are ten clock seconds


def test_wall_and_fixed_clocks_keep_receipt_times_as_the_wall_gives_them():
    assert clock_from("wall").at_wall(ORIGIN) == ORIGIN
    fixed = clock_from("fixed:2026-11-02T12:00:00+00:00")
    assert fixed.at_wall(ORIGIN) == ORIGIN
    assert fixed.now() == clock_from(fixed.setting()).now()


@pytest.mark.parametrize("value", ["scaled:0", "scaled:-3", "scaled:2000000", "scaled:nan", "scaled:fast",
                                   "scaled:10@yesterday", "scaled:10@inf", "sundial"])
def test_a_clock_that_cannot_work_is_refused_naming_the_variable(value: str):
    with pytest.raises(ConfigError, match="LEADSTREAM_CLOCK"):
        settings_from({"LEADSTREAM_CLOCK": value})
    with pytest.raises(ConfigError, match="LEADSTREAM_CLOCK"):
        collector_settings_from({"LEADSTREAM_CLOCK": value})
