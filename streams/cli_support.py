"""What every leadstream command shares: failures said in a line or two, the log level, coroutines run to the end."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka.errors import KafkaConnectionError

from scoring import ScoringError
from streams.errors import ConfigError, StreamsError
from streams.failures import EXIT_REFUSED, explain

LOG_LEVEL_VARIABLE = "LEADSTREAM_LOG_LEVEL"
LOG_LEVELS = {"crit": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING,
              "info": logging.INFO, "debug": logging.DEBUG}
# aiokafka logs these at ERROR while a fresh consumer waits for its group coordinator, or before
# the exception a command reports anyway: shown from LEADSTREAM_LOG_LEVEL=info down.
START_UP_NOISE = {
    "aiokafka.consumer.group_coordinator": ("Group Coordinator Request failed",),
    "aiokafka": ("Unable connect to",),  # aiokafka.client logs as "aiokafka"
}


def log_level_name() -> str:
    """LEADSTREAM_LOG_LEVEL (Faust's names; ``warning``/``critical`` taken too), else ``warn``."""
    raw = os.environ.get(LOG_LEVEL_VARIABLE, "").strip().lower() or "warn"
    name = {"warning": "warn", "critical": "crit"}.get(raw, raw)
    if name not in LOG_LEVELS:
        raise ConfigError(f"{LOG_LEVEL_VARIABLE}: expected one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return name


def debugging() -> bool:
    return os.environ.get(LOG_LEVEL_VARIABLE, "").strip().lower() == "debug"


class _StartUpNoise(logging.Filter):
    """Drops a known-harmless client message unless the process logs at info or below."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().getEffectiveLevel() <= logging.INFO:
            return True
        return not (isinstance(record.msg, str) and record.msg.startswith(self.prefixes))


def configure_logging(own_handler: bool) -> None:
    """The level from LEADSTREAM_LOG_LEVEL; a handler unless Faust sets up its own (``leadstream worker``)."""
    level = LOG_LEVELS[log_level_name()]
    if own_handler:
        logging.basicConfig(level=level, format="[%(asctime)s] [%(levelname)s] %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name, prefixes in START_UP_NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(installed, _StartUpNoise) for installed in logger.filters):
            logger.addFilter(_StartUpNoise(prefixes))


def end_with(exc: BaseException, command: str | None) -> None:
    """Say what failed (the traceback first when debugging) and exit with the cause's status."""
    if debugging():
        traceback.print_exception(exc, file=sys.stderr)
    failure = explain(_diagnosed(exc) if isinstance(exc, KafkaConnectionError) else exc)
    who = f"leadstream {command}" if command else "leadstream"
    print(f"{who}: {failure.message}", file=sys.stderr, flush=True)
    raise SystemExit(failure.exit_status)


def _diagnosed(exc: KafkaConnectionError) -> BaseException:
    """aiokafka says "Unable to bootstrap" whether Kafka is silent or refuses us: connect again to tell which."""
    from streams.config.environment import settings
    from streams.preflight import kafka_problem

    try:
        asyncio.get_running_loop()
        return exc  # inside a command's loop: say "unreachable" rather than block it
    except RuntimeError:
        pass
    return kafka_problem(settings()) or exc


@contextmanager
def said_plainly(command: str) -> Iterator[None]:
    """A refused or impossible request is one line on stderr and exit status 2, not a traceback."""
    try:
        yield
    except (StreamsError, ScoringError) as exc:
        end_with(exc, command)


def runs_async(function: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """A click command written as a coroutine: run on a fresh event loop until it returns."""

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> None:
        with asyncio.Runner() as runner:
            runner.get_loop().set_exception_handler(_quiet_about_unstarted_clients)
            runner.run(function(*args, **kwargs))

    return command


def _quiet_about_unstarted_clients(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A Kafka client whose start failed is reported by its error; aiokafka's "Unclosed ..." after it is not news."""
    if str(context.get("message", "")).startswith("Unclosed AIOKafka") and not debugging():
        return
    loop.default_exception_handler(context)


__all__ = ["EXIT_REFUSED", "configure_logging", "end_with", "runs_async", "said_plainly"]
