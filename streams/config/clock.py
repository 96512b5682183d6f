"""The clock demotions run on: wall time in production, fixed or faster in tests and demos.

LEADSTREAM_CLOCK is `wall` (default), `fixed:<ISO time>` (time stands still: tests with
scripted event times), or `scaled:<speed>` (time runs <speed> times faster from start-up:
the demo compresses weeks of cooling into minutes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from streams.errors import ConfigError


@dataclass(frozen=True)
class Clock:
    kind: str = "wall"
    fixed_at: float = 0.0
    speed: float = 1.0
    started_wall: float = 0.0

    def now(self) -> float:
        if self.kind == "fixed":
            return self.fixed_at
        if self.kind == "scaled":
            return self.started_wall + (time.time() - self.started_wall) * self.speed
        return time.time()


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
        if kind == "scaled" and float(argument) > 0:
            return Clock(kind="scaled", speed=float(argument), started_wall=time.time())
    except ValueError:
        pass
    raise ConfigError(f"LEADSTREAM_CLOCK: expected wall, fixed:<ISO time> or scaled:<speed>, got {value!r}")
