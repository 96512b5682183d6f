"""The clock demotions run on: wall time in production, fixed or faster in tests and demos.

LEADSTREAM_CLOCK is `wall` (default), `fixed:<ISO time>` (time stands still: tests with
scripted event times), or `scaled:<speed>[@<epoch seconds>]` (time runs <speed> times faster
from the given wall moment, else from start-up: the demo compresses weeks of cooling into a
minute). The origin lets the processes of one demo (worker, collector, simulator) read one clock.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from streams.errors import ConfigError

# Beyond a day per tenth of a second, a demotion tick spans days and the demo shows jumps, not decay.
MAX_SPEED = 1_000_000.0
# `leadstream dev`'s default: a second is a day and a half. Leads turn hot within seconds, those that
# go quiet turn warm → cold and are recycled by decay within a minute, a quiet SQL after its 8 weeks.
DEMO_SPEED = 129_600.0


@dataclass(frozen=True)
class Clock:
    kind: str = "wall"
    fixed_at: float = 0.0
    speed: float = 1.0
    started_wall: float = 0.0

    def now(self) -> float:
        if self.kind == "fixed":
            return self.fixed_at
        return self.at_wall(time.time())

    def at_wall(self, wall: float) -> float:
        """This clock's reading at a wall-clock moment (a broker's or collector's receipt time).

        A fixed clock scripts demotions only: receipts keep the wall's time, as they always did.
        """
        if self.kind == "scaled":
            return self.started_wall + (wall - self.started_wall) * self.speed
        return wall

    def wall_at(self, reading: float) -> float:
        """The wall-clock moment this clock reads ``reading`` (the simulator's schedule)."""
        if self.kind == "scaled":
            return self.started_wall + (reading - self.started_wall) / self.speed
        return reading

    def setting(self) -> str:
        """The LEADSTREAM_CLOCK value that gives another process this very clock (same origin)."""
        if self.kind == "scaled":
            return f"scaled:{self.speed:g}@{self.started_wall!r}"
        if self.kind == "fixed":
            return f"fixed:{datetime.fromtimestamp(self.fixed_at, timezone.utc).isoformat()}"
        return "wall"


def scaled_clock(speed: float, started_wall: float | None = None) -> Clock:
    if not 0 < speed <= MAX_SPEED:
        raise ConfigError(f"LEADSTREAM_CLOCK: a scaled clock's speed must be above 0 and at most {MAX_SPEED:,.0f},"
                          f" got {speed:g}")
    if speed == 1:
        return Clock()
    return Clock(kind="scaled", speed=speed, started_wall=time.time() if started_wall is None else started_wall)


def clock_from(value: str) -> Clock:
    text = value.strip()
    if text in ("", "wall"):
        return Clock()
    kind, _, argument = text.partition(":")
    try:
        if kind == "fixed":
            moment = datetime.fromisoformat(argument)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
            return Clock(kind="fixed", fixed_at=moment.timestamp())
        if kind == "scaled":
            speed, _, origin = argument.partition("@")
            if origin and not math.isfinite(float(origin)):
                raise ValueError(origin)
            return scaled_clock(float(speed), float(origin) if origin else None)
    except ValueError:
        pass
    raise ConfigError(f"LEADSTREAM_CLOCK: expected wall, fixed:<ISO time> or scaled:<speed>[@<epoch seconds>],"
                      f" got {value!r}")
