"""What a user meets at the `leadstream` command line: its own help and version, and failures said plainly.

Every test runs the installed console script as a separate process and reads what a person at a
terminal reads: stdout, stderr and the exit status.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import streams
from streams.devtools.brokers import free_port
from streams.failures import (
    EXIT_KAFKA_UNREACHABLE,
    EXIT_PORT_TAKEN,
    EXIT_REFUSED,
    EXIT_TOOL_MISSING,
    EXIT_TOPIC_MISSING,
)
from tests.e2e.cli import leadstream_command
from tests.model_files import SHIPPED_MODEL, shipped_model_with

LEADSTREAM_COMMANDS = ["worker", "collector", "alerts", "crm", "dlq", "model", "export", "replay", "calibrate", "report",
                       "dev", "kafka", "broker", "bench"]
FAUST_COMMANDS = ["agents", "clean-versions", "completion", "livecheck", "models", "reset", "send", "tables"]


def leadstream(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*leadstream_command(), *args], check=False, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)


def nowhere() -> dict[str, str]:
    """A Kafka address nothing listens on: the user's typo, or a broker not started yet."""
    return {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}


def said_in_one_line(run: subprocess.CompletedProcess[str]) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_help_lists_leadstreams_commands_by_section_and_none_of_fausts():
    run = leadstream("--help")
    assert run.returncode == 0
    sections = re.findall(r"^(\w+) commands:\n((?:  .*\n)+)", run.stdout, re.MULTILINE)
    assert [name for name, _ in sections] == ["Run", "Operate", "Try"]
    listed = [line.split()[0] for _, block in sections for line in block.splitlines() if line.startswith("  ") and
              not line.startswith("   ")]
    assert sorted(listed) == sorted(LEADSTREAM_COMMANDS)
    assert "Welcome" not in run.stdout and "faust-streaming.github.io" not in run.stdout
    for faust_command in FAUST_COMMANDS:
        assert leadstream(faust_command, "--help").returncode == EXIT_REFUSED  # click: "No such command"


@pytest.mark.parametrize("command", LEADSTREAM_COMMANDS)
def test_every_commands_help_says_what_it_does_with_an_example(command: str):
    run = leadstream(command, "--help")
    assert run.returncode == 0, run.stderr
    assert f"Usage: leadstream {command}" in run.stdout
    assert re.search(r"^  Examples?:\n    \$ leadstream ", run.stdout, re.MULTILINE) or \
        re.search(r"^    \$ \S+=\S+ leadstream ", run.stdout, re.MULTILINE), run.stdout
    assert "Start worker instance for given app" not in run.stdout


def test_the_worker_help_names_its_variables_and_leadstreams_port_flag():
    run = leadstream("worker", "--help")
    assert "KAFKA_BOOTSTRAP_SERVERS" in run.stdout and "LEADSTREAM_WEB_PORT" in run.stdout
    assert "--port" in run.stdout and "--web-port" not in run.stdout and "0.0.0.0" not in run.stdout


def test_version_names_leadstreams_own_version_then_faust():
    run = leadstream("--version")
    assert run.returncode == 0
    first, second = run.stdout.splitlines()[:2]
    assert first == f"leadstream {streams.__version__}"
    assert re.match(r"\s+faust-streaming \d", second)
    assert streams.__version__ in Path(__file__).parents[2].joinpath("CHANGELOG.md").read_text()


def test_kafka_unreachable_is_one_line_naming_the_setting_and_its_own_status():
    for args in (("dlq", "list"), ("worker",), ("collector", "--port", "0"), ("model", "show")):
        run = leadstream(*args, env=nowhere())
        assert run.returncode == EXIT_KAFKA_UNREACHABLE, (args, run.stderr)
        line = said_in_one_line(run)
        assert line.startswith(f"leadstream {' '.join(a for a in args if not a.startswith('-') and a != '0')}:")
        assert "unreachable" in line and "KAFKA_BOOTSTRAP_SERVERS" in line
        assert "Unable connect to" not in run.stderr  # aiokafka's own line: our message says it better


def test_the_traceback_and_client_noise_come_back_with_debug():
    run = leadstream("--debug", "dlq", "list", env=nowhere())
    assert run.returncode == EXIT_KAFKA_UNREACHABLE
    assert "Traceback (most recent call last)" in run.stderr, run.stderr
    assert "Unable connect to" in run.stderr
    assert re.search(r"^leadstream dlq list: Kafka is unreachable", run.stderr, re.MULTILINE)


def test_a_bad_model_file_is_one_line_naming_the_field(tmp_path: Path):
    model = tmp_path / "bad.toml"
    model.write_text(shipped_model_with(('demo_request = { component = "intent"',
                                         'demo_request = { component = "intnet"')))
    for args in (("worker",), ("dev", "--duration", "1")):
        run = leadstream(*args, env={"LEADSTREAM_MODEL": str(model), **nowhere()})
        assert run.returncode == EXIT_REFUSED, (args, run.stderr)
        line = said_in_one_line(run)
        assert "bad.toml" in line and "signals.demo_request.component" in line
    assert "broker" not in run.stdout  # dev refused before starting anything


def test_a_taken_port_is_one_line_naming_the_port_and_the_option(taken_port: int):
    for args in (("worker", "--port", str(taken_port)), ("collector", "--port", str(taken_port))):
        run = leadstream(*args, env=nowhere())
        assert run.returncode == EXIT_PORT_TAKEN, (args, run.stderr)
        line = said_in_one_line(run)
        assert f"port {taken_port} on 127.0.0.1 is already in use" in line and "--port" in line


def test_java_missing_says_what_to_install_and_its_own_status():
    run = leadstream("kafka", env={"PATH": "/nonexistent"})  # the console script names its interpreter itself
    assert run.returncode == EXIT_TOOL_MISSING, run.stderr
    line = said_in_one_line(run)
    assert line.startswith("leadstream kafka: java is not on PATH") and "KAFKA_BOOTSTRAP_SERVERS" in line


def test_model_validate_passes_a_good_file_and_names_the_field_of_a_bad_one(tmp_path: Path):
    good = leadstream("model", "validate", str(SHIPPED_MODEL))
    assert good.returncode == 0 and f"{SHIPPED_MODEL}: valid model default-" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(shipped_model_with(("pricing_view = { component = \"intent\", points = 10",
                                       "pricing_view = { component = \"intent\", points = -10")))
    run = leadstream("model", "validate", str(SHIPPED_MODEL), str(bad))
    assert run.returncode == EXIT_REFUSED
    line = said_in_one_line(run)
    assert line.startswith("leadstream model validate: model file") and "signals.pricing_view.points" in line
    unreadable = leadstream("model", "validate", str(tmp_path / "absent.toml"))
    assert unreadable.returncode == EXIT_REFUSED and "absent.toml: cannot be read" in said_in_one_line(unreadable)


def test_model_diff_shows_each_changed_weight_and_setting(tmp_path: Path):
    candidate = tmp_path / "acme.toml"
    candidate.write_text(shipped_model_with(
        ('demo_request = { component = "intent", points = 30', 'demo_request = { component = "intent", points = 50'),
        ("intent = 7\n", "intent = 10\n"),
        ('"Case Study Downloaded" = "case_study_download"\n', ""),
    ).replace('version = "default-', 'version = "acme-'))
    run = leadstream("model", "diff", str(SHIPPED_MODEL), str(candidate))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith("4 settings differ")
    assert lines[1].startswith('  ~ version: "default-') and '→ "acme-' in lines[1]
    assert lines[2:] == ["  ~ half_life_days.intent: 7 → 10", "  ~ signals.demo_request.points: 30 → 50",
                         '  - events."Case Study Downloaded": "case_study_download"']
    same = leadstream("model", "diff", str(SHIPPED_MODEL), str(SHIPPED_MODEL))
    assert same.returncode == 0 and same.stdout.strip().endswith("no differences")
    broken = tmp_path / "broken.toml"
    broken.write_text("version = ")
    run = leadstream("model", "diff", str(SHIPPED_MODEL), str(broken))
    assert run.returncode == EXIT_REFUSED and "not valid TOML" in said_in_one_line(run)


@pytest.mark.kafka
def test_a_topic_that_does_not_exist_is_named_with_the_settings_that_choose_it(kafka_bootstrap: str):
    run = leadstream("dlq", "list", env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
                                         "LEADSTREAM_TOPIC_PREFIX": "never-started-"})
    assert run.returncode == EXIT_TOPIC_MISSING, run.stderr
    line = said_in_one_line(run)
    assert "never-started-leads.events.dlq does not exist" in line and "LEADSTREAM_TOPIC_PREFIX" in line
