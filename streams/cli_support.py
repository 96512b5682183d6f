"""What every leadstream command shares: refusals said in one line, and coroutines run to the end."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from scoring import ScoringError
from streams.errors import StreamsError

EXIT_REFUSED = 2


@contextmanager
def said_plainly(command: str) -> Iterator[None]:
    """A refused or impossible request is one line on stderr and exit status 2, not a traceback."""
    try:
        yield
    except (StreamsError, ScoringError) as exc:
        print(f"leadstream {command}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_REFUSED) from None


def runs_async(function: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """A click command written as a coroutine: run on a fresh event loop until it returns."""

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> None:
        asyncio.run(function(*args, **kwargs))

    return command
