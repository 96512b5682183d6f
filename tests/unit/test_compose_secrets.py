"""The compose stack takes its tokens and keys from .env: without them, or with .env.example's placeholders
left in, its workers and collector refuse to start naming the variable; with real ones, every worker gets both.

docker-compose.yml is read as compose reads it (YAML merge keys, ``${VAR:-default}`` filled from .env),
and each service's environment goes through the same checks the processes run at start.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from streams.collector.config import collector_settings_from
from streams.config.web_access import refuse_open_exposure, web_access_from
from streams.errors import ConfigError

ROOT = Path(__file__).parents[2]
WORKERS = ("worker-1", "worker-2")


def dotenv(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))


def service_env(service: str, dot_env: dict[str, str]) -> dict[str, str]:
    """The service's environment as compose hands it over, ``${VAR:-default}`` taken from ``dot_env``."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    raw = compose["services"][service]["environment"]

    def filled(value: object) -> str:
        return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: dot_env.get(m.group(1)) or m.group(2), str(value))

    return {name: filled(value) for name, value in raw.items()}


def worker_start_check(env: dict[str, str]) -> None:
    refuse_open_exposure(web_access_from(env), env["LEADSTREAM_WEB_HOST"])


def test_without_a_dot_env_the_stacks_workers_refuse_to_start_naming_the_token():
    for worker in WORKERS:
        with pytest.raises(ConfigError, match="^LEADSTREAM_API_TOKEN: required when LEADSTREAM_WEB_HOST"):
            worker_start_check(service_env(worker, {}))


def test_with_the_example_copied_unchanged_the_workers_and_the_collector_refuse_its_placeholders():
    example = dotenv(ROOT / ".env.example")
    for worker in WORKERS:
        with pytest.raises(ConfigError, match="^LEADSTREAM_API_TOKEN: still the placeholder"):
            worker_start_check(service_env(worker, example))
    with pytest.raises(ConfigError, match="^LEADSTREAM_COLLECTOR_WRITE_KEYS .*still the placeholder"):
        collector_settings_from(service_env("collector", example))


def test_with_real_tokens_every_worker_gets_both_scopes_and_the_collector_its_keys():
    real = {"LEADSTREAM_API_TOKEN": "r" * 64, "LEADSTREAM_ADMIN_TOKEN": "a" * 64,
            "LEADSTREAM_COLLECTOR_WRITE_KEYS": "web:" + "w" * 40, "LEADSTREAM_COLLECTOR_PIXEL_KEYS": "mail:" + "p" * 64}
    for worker in WORKERS:
        env = service_env(worker, real)
        worker_start_check(env)
        access = web_access_from(env)
        assert (access.read_token, access.admin_token) == ("r" * 64, "a" * 64)
    collector = collector_settings_from(service_env("collector", real))
    assert collector.write_keys.secrets == (("web", "w" * 40),) and collector.pixel_keys.secrets == (("mail", "p" * 64),)
