"""Server-sent events read as a browser's EventSource reads them, to check what a page would see."""

from __future__ import annotations

import re


def browser_events(stream: bytes) -> list[tuple[str, str]]:
    """(event name, data) pairs: lines end at CR, LF or CRLF alike; a blank line ends an event."""
    events, name, data = [], None, []
    for line in re.split(r"\r\n|\r|\n", stream.decode()):
        if not line:
            if data:
                events.append((name or "message", "\n".join(data)))
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    return events
