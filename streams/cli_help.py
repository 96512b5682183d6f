"""What each command's ``--help`` ends with: the environment variables it reads and an example.

Kept in one table beside the command list (streams/cli.py), so every command is documented the
same way and a command's module stays about what it does.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

KAFKA = (("KAFKA_BOOTSTRAP_SERVERS", "the Kafka brokers (default 127.0.0.1:9092)"),
         ("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; KAFKA_SASL_*, KAFKA_SSL_* with it"),
         ("LEADSTREAM_TOPIC_PREFIX", "put in front of every topic name"))
LOGGING = (("LEADSTREAM_LOG_LEVEL", "crit, error, warn (default), info or debug; debug shows tracebacks"),)
MODEL = (("LEADSTREAM_MODEL", "the scoring-model file (default: the shipped model)"),)


@dataclass(frozen=True)
class Help:
    variables: tuple[tuple[str, str], ...]
    examples: tuple[str, ...]


HELP: dict[str, Help] = {
    "worker": Help(KAFKA + MODEL + (
        ("LEADSTREAM_WEB_HOST", "address the API binds (default 127.0.0.1; --host)"),
        ("LEADSTREAM_WEB_PORT", "the API's port (default 6066; --port)"),
        ("LEADSTREAM_API_TOKEN", "the read token of the lead API and board"),
        ("LEADSTREAM_PARTITIONS", "partitions of every topic it creates (default 8)"),
        ("LEADSTREAM_DATA_DIR", "local data (default ./leadstream-data)"),
    ) + LOGGING, ("KAFKA_BOOTSTRAP_SERVERS=kafka:9092 leadstream worker --port 6066",)),
    "collector": Help(KAFKA + (
        ("LEADSTREAM_COLLECTOR_PORT", "the port (default 8080; --port)"),
        ("LEADSTREAM_WEB_HOST", "address to bind (default 127.0.0.1; --host)"),
        ("LEADSTREAM_COLLECTOR_WRITE_KEYS", "source:secret,... the API and forms need one of"),
    ) + LOGGING, ("leadstream collector --port 8080",)),
    "alerts": Help(KAFKA + (
        ("LEADSTREAM_ALERTS_WEBHOOK_URL", "Slack-compatible webhook (or LEADSTREAM_ALERTS_WEBHOOK_URL_FILE)"),
        ("LEADSTREAM_DATA_DIR", "where the dedupe store and dead-letter file live"),
    ) + LOGGING, ("LEADSTREAM_ALERTS_WEBHOOK_URL_FILE=/run/secrets/slack leadstream alerts --on-stage sql",)),
    "crm": Help(KAFKA + (
        ("LEADSTREAM_CRM", "hubspot or salesforce"),
        ("LEADSTREAM_CRM_TOKEN", "the API token (or LEADSTREAM_CRM_TOKEN_FILE naming a file holding it)"),
        ("LEADSTREAM_CRM_URL", "the API's base URL (HubSpot's by default; a Salesforce org's instance URL)"),
        ("LEADSTREAM_CRM_ID_PROPERTY", "HubSpot: the unique contact property matched (default email)"),
        ("LEADSTREAM_CRM_OBJECT", "Salesforce: Lead (default) or Contact"),
        ("LEADSTREAM_CRM_EXTERNAL_ID_FIELD", "Salesforce: the external-id field holding the lead id"),
        ("LEADSTREAM_CRM_WINDOW_SECONDS", "coalescing window (default 5; --window)"),
        ("LEADSTREAM_DATA_DIR", "where the dead-letter file lives"),
    ) + LOGGING, ("leadstream crm setup",
                  "LEADSTREAM_CRM_TOKEN_FILE=/run/secrets/hubspot leadstream crm --port 6071")),
    "crm setup": Help((("LEADSTREAM_CRM", "hubspot or salesforce; the token and URL as for `leadstream crm`"),),
                      ("LEADSTREAM_CRM_TOKEN_FILE=/run/secrets/hubspot leadstream crm setup",)),
    "dlq": Help(KAFKA + LOGGING, ("leadstream dlq list", "leadstream dlq redrive --reason oversized --limit 100")),
    "dlq list": Help(KAFKA, ("leadstream dlq list --json",)),
    "dlq redrive": Help(KAFKA, ("leadstream dlq redrive --reason oversized --limit 100",)),
    "export": Help(KAFKA + LOGGING, ("leadstream export --output history.jsonl",)),
    "replay": Help(KAFKA + MODEL + LOGGING, ("leadstream replay --model candidate.toml --no-output",)),
    "calibrate": Help(KAFKA + MODEL + LOGGING,
                      ("leadstream calibrate --history history.jsonl --output candidate.toml",)),
    "report": Help(KAFKA + MODEL + LOGGING, ("leadstream report --history history.jsonl",
                                             "leadstream report --models --since 2026-12-01")),
    "model": Help(KAFKA + MODEL, ("leadstream model validate my-model.toml", "leadstream model diff live.toml new.toml",
                                  "leadstream model apply new.toml", "leadstream model shadow candidate.toml")),
    "model validate": Help((), ("leadstream model validate my-model.toml && echo valid",)),
    "model diff": Help((), ("leadstream model diff scoring/default_model.toml my-model.toml",)),
    "model apply": Help(KAFKA, ("leadstream model apply new.toml",)),
    "model show": Help(KAFKA + MODEL, ("leadstream model show",)),
    "model shadow": Help(KAFKA, ("leadstream model shadow candidate.toml", "leadstream model shadow --off")),
    "model promote": Help(KAFKA, ("leadstream model promote",)),
    "dev": Help(MODEL + LOGGING, ("leadstream dev --duration 120 --open",)),
    "broker": Help((), ("leadstream broker --port 9092",)),
    "kafka": Help((("JAVA_HOME", "a JDK 17+ (java on PATH); Maven fetches the jars once"),),
                  ("leadstream kafka --port 9092 --data-dir ./kafka-data",)),
    "bench": Help((("KAFKA_BOOTSTRAP_SERVERS", "benchmark on your Kafka instead of one started here"),),
                  ("leadstream bench --quick", "leadstream bench --shadow --events 40000 --leads 4000")),
}


def epilog(path: str) -> str | None:
    """The environment and example paragraphs of ``path`` ("dlq", "model diff"), unwrapped by click (\\b)."""
    found = HELP.get(path)
    if found is None:
        return None
    width = max((len(name) for name, _ in found.variables), default=0)
    parts = []
    if found.variables:
        parts.append("\b\nEnvironment:\n" + "\n".join(f"  {name:<{width}}  {what}" for name, what in found.variables))
    parts.append("\b\nExample" + ("s" if len(found.examples) > 1 else "") + ":\n"
                 + "\n".join(f"  $ {example}" for example in found.examples))
    return "\n\n".join(parts)


def document(command: click.Command, path: str) -> click.Command:
    """Give ``command`` (and a group's subcommands) its environment and example paragraphs, once."""
    if not getattr(command, "_documented", False):
        extra = epilog(path)
        if extra:
            command.epilog = f"{command.epilog}\n\n{extra}" if command.epilog else extra
        command._documented = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            document(sub, f"{path} {name}")
    return command
