"""Encoding helpers every contract shares: times as ISO-8601 UTC, scores rounded for the wire."""

from __future__ import annotations

from datetime import datetime, timezone




def iso_time(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def rounded(value: float) -> float:
    return round(value, 4)
