"""Secrets stay out of reprs and process arguments: a logged settings object or `ps` shows none.

Every settings or options object that holds a token, key, password or the webhook URL is built
here from the environment as an operator would set it, and its repr (and its nested objects')
must not contain the secret.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.alerting.command import alerts
from streams.alerting.errors import AlertConfigError
from streams.alerting.options import alert_options_from, webhook_url_from
from streams.collector.config import collector_settings_from
from streams.config.environment import settings_from
from streams.devtools.dev import board_url
from streams.devtools.processes import WorkerProcess

READ_TOKEN = "read-token-0123456789abcdef0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef0123456789abcde"
SASL_PASSWORD = "sasl-password-9f8e7d6c5b4a"
WRITE_KEY = "write-key-5e4d3c2b1a"
PIXEL_KEY = "pixel-signing-key-0123456789abcdef012345"
WEBHOOK = "https://hooks.slack.example/services/T000/B000/secret-path-XYZ"


def test_the_worker_settings_repr_holds_no_token_or_kafka_password():
    config = settings_from({
        "LEADSTREAM_API_TOKEN": READ_TOKEN, "LEADSTREAM_ADMIN_TOKEN": ADMIN_TOKEN,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "leadstream",
        "KAFKA_SASL_PASSWORD": SASL_PASSWORD,
    })
    assert (config.web.read_token, config.security.sasl_password) == (READ_TOKEN, SASL_PASSWORD)  # held...
    for text in (repr(config), repr(config.web), repr(config.security), str(config)):
        for secret in (READ_TOKEN, ADMIN_TOKEN, SASL_PASSWORD):
            assert secret not in text  # ...never shown


def test_the_collector_settings_repr_holds_no_write_or_signing_key():
    config = collector_settings_from({"LEADSTREAM_COLLECTOR_WRITE_KEYS": f"web:{WRITE_KEY}",
                                      "LEADSTREAM_COLLECTOR_PIXEL_KEYS": f"mail:{PIXEL_KEY}"})
    assert config.write_keys.source_of(WRITE_KEY) == "web"
    assert WRITE_KEY not in repr(config) and PIXEL_KEY not in repr(config)


def test_the_alert_options_repr_holds_no_webhook_url():
    options = alert_options_from(settings_from({}), webhook_url=WEBHOOK)
    assert options.webhook_url == WEBHOOK
    assert WEBHOOK not in repr(options) and "secret-path" not in repr(options)


def test_the_webhook_url_comes_from_the_environment_or_a_file(tmp_path: Path):
    secret_file = tmp_path / "webhook-url"
    secret_file.write_text(WEBHOOK + "\n")
    assert webhook_url_from({"LEADSTREAM_ALERTS_WEBHOOK_URL": WEBHOOK}) == WEBHOOK
    assert webhook_url_from({"LEADSTREAM_ALERTS_WEBHOOK_URL_FILE": str(secret_file)}) == WEBHOOK
    assert webhook_url_from({}) is None  # the console


@pytest.mark.parametrize(("env", "named"), [
    ({"LEADSTREAM_ALERTS_WEBHOOK_URL": "ftp://x/secret-path-XYZ"}, "LEADSTREAM_ALERTS_WEBHOOK_URL:"),
    ({"LEADSTREAM_ALERTS_WEBHOOK_URL": WEBHOOK, "LEADSTREAM_ALERTS_WEBHOOK_URL_FILE": "/x"}, "not both"),
    ({"LEADSTREAM_ALERTS_WEBHOOK_URL_FILE": "/nonexistent/webhook-url"}, "LEADSTREAM_ALERTS_WEBHOOK_URL_FILE:"),
])
def test_a_bad_webhook_setting_is_refused_naming_the_variable_without_echoing_the_url(env, named):
    with pytest.raises(AlertConfigError) as refused:
        webhook_url_from(env)
    assert named in str(refused.value)
    assert "secret-path-XYZ" not in str(refused.value)


def test_the_webhook_url_on_the_command_line_is_refused_pointing_at_the_variables():
    result = CliRunner().invoke(alerts, ["--webhook-url", WEBHOOK])
    assert result.exit_code == 2
    assert "LEADSTREAM_ALERTS_WEBHOOK_URL" in result.output and "LEADSTREAM_ALERTS_WEBHOOK_URL_FILE" in result.output
    assert "secret-path" not in result.output
    assert "--webhook-url" not in CliRunner().invoke(alerts, ["--help"]).output


def test_leadstream_dev_opens_the_board_without_the_token_in_the_browsers_arguments(monkeypatch, tmp_path: Path):
    # webbrowser.open starts the browser with the URL as an argument: ps would show the token to every user.
    monkeypatch.setenv("LEADSTREAM_API_TOKEN", "t" * 40)
    worker = WorkerProcess("127.0.0.1:9092", tmp_path / "worker.log", web_port=6066)
    assert board_url(worker) == "http://127.0.0.1:6066/board"
