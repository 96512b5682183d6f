"""The production-like stack's config holds together: docker-compose.yml, the image, Prometheus's
scrape config and alert rules, Grafana's provisioning and the leadstream dashboard.

promtool (Debian package `prometheus`) checks the Prometheus files and runs the rules' unit tests;
without it those tests skip locally but fail under CI (any truthy `CI`). `docker compose config`
runs where the compose plugin exists (its skip is the one CI allows); the YAML-level checks here
run everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml

from scoring.stages import Stage, Temperature
from tests.ci import DOCKER_COMPOSE_MISSING, skip_or_fail_under_ci
from tests.monitoring_refs import (
    DASHBOARDS,
    REPO,
    RULES,
    all_expressions,
    dashboard_expressions,
    metric_names_in,
    referenced_metrics,
)

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_DIR = REPO / "monitoring" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULE_TESTS = PROMETHEUS_DIR / "rules.test.yml"
GRAFANA_PROVISIONING = REPO / "monitoring" / "grafana" / "provisioning"
DASHBOARD = DASHBOARDS / "leadstream.json"

STACK = {"kafka", "worker-1", "worker-2", "collector", "alerts", "prometheus", "grafana"}
PROJECT_SERVICES = {"worker-1", "worker-2", "collector", "alerts"}  # built from this repo's Dockerfile
GRID_WIDTH = 24


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    found, stack = [], list(dashboard()["panels"])
    while stack:
        panel = stack.pop(0)
        found.append(panel)
        stack.extend(panel.get("panels", []))
    return found


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source in the repo, target in the container) of a service's ./-relative bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume["target"]
        else:
            source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts.append((source, target))
    return mounts


def host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """Where in the repo a path inside the container comes from, through the service's bind mounts."""
    for source, target in sorted(bind_mounts(service), key=lambda mount: -len(mount[1])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return (REPO / source / os.path.relpath(container_path, target)).resolve()
    return None


def listening_ports(service: dict[str, Any]) -> set[int]:
    """The ports a leadstream process serves HTTP on, from its command line and environment."""
    ports = set()
    command = service.get("command", [])
    for flag, value in zip(command, command[1:]):
        if flag in ("--port", "--metrics-port", "--web-port"):
            ports.add(int(value))
    if service.get("command", [None])[0] == "worker":
        ports.add(int(service.get("environment", {}).get("LEADSTREAM_WEB_PORT", 6066)))
    return ports


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name = image.rsplit("/", 1)[-1]
    tag = name.partition(":")[2]
    return bool(tag) and tag != "latest" and re.search(r"\d", tag) is not None


def documented_variables() -> set[str]:
    """Environment variables named in the README's Configuration table."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def require_promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        skip_or_fail_under_ci("promtool is not installed (Debian: apt-get install prometheus)",
                              "the Prometheus config checks")
    return promtool


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([require_promtool(), *map(str, args)], capture_output=True, text=True,
                         timeout=120, cwd=cwd)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


# ---------------------------------------------------------------------------------- compose file


def test_docker_compose_accepts_the_file():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip(DOCKER_COMPOSE_MISSING)  # the one skip CI allows (tests/ci.py says why)
    run = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr


def test_the_stack_has_kafka_the_workers_the_collector_alerts_prometheus_and_grafana():
    assert STACK <= set(services())


def test_every_third_party_image_is_pinned_to_a_version():
    for name, service in services().items():
        if "image" in service:
            assert image_is_pinned(service["image"]), f"{name}: {service['image']} is not pinned"
        else:
            assert "build" in service, f"{name}: neither an image nor a build"
    assert services()["kafka"]["image"] == "apache/kafka:4.1.1"


def test_the_leadstream_processes_are_built_from_this_repository():
    for name in PROJECT_SERVICES:
        build = services()[name]["build"]
        assert build in (".", "./") or build.get("context") in (".", "./"), name
    assert services()["collector"]["command"] == ["collector", "--port", "8080"]
    assert services()["alerts"]["command"] == ["alerts", "--port", "6070"]


def test_the_leadstream_processes_use_only_documented_settings_and_reach_kafka():
    documented = documented_variables()
    assert "KAFKA_BOOTSTRAP_SERVERS" in documented  # the table was found
    for name in PROJECT_SERVICES:
        environment = services()[name]["environment"]
        assert set(environment) <= documented, f"{name}: {set(environment) - documented} not in the README"
        assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert environment["LEADSTREAM_WEB_HOST"] == "0.0.0.0"
    kafka = services()["kafka"]["environment"]
    assert "PLAINTEXT://kafka:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"]


def test_every_service_has_a_healthcheck_and_kafka_is_awaited():
    for name, service in services().items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in PROJECT_SERVICES:
        assert services()[name]["depends_on"]["kafka"]["condition"] == "service_healthy", name


def test_kafka_keeps_its_data_on_a_named_volume():
    kafka = services()["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    named = {volume.split(":")[0]: volume.split(":")[1] for volume in kafka["volumes"]
             if not volume.startswith((".", "/"))}
    assert log_dirs in named.values()
    assert set(named) <= set(compose()["volumes"])


def test_prometheus_and_grafana_mount_files_that_exist_in_the_repository():
    for name in ("prometheus", "grafana"):
        mounts = bind_mounts(services()[name])
        assert mounts, f"{name} mounts nothing from the repo"
        for source, _ in mounts:
            assert (REPO / source).exists(), f"{name}: {source} does not exist"


def test_prometheus_runs_the_mounted_config():
    prometheus = services()["prometheus"]
    flags = dict(arg.split("=", 1) for arg in prometheus["command"] if "=" in arg)
    assert host_path(prometheus, flags["--config.file"]) == PROMETHEUS_CONFIG.resolve()


def test_prometheus_scrapes_compose_services_on_the_ports_they_serve():
    scraped = {}
    for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                scraped[host] = int(port)
    assert {"worker-1", "worker-2", "collector", "alerts"} <= set(scraped)
    for host, port in scraped.items():
        assert host in services(), f"scrape target {host} is not a compose service"
        assert port in listening_ports(services()[host]), f"{host} does not serve :{port}"


def test_grafana_provisions_the_prometheus_datasource_and_the_mounted_dashboards():
    grafana = services()["grafana"]
    assert host_path(grafana, "/etc/grafana/provisioning") == GRAFANA_PROVISIONING.resolve()
    (datasource,) = load_yaml(GRAFANA_PROVISIONING / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["uid"] == "prometheus" and datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090:9090" in services()["prometheus"]["ports"]
    (provider,) = load_yaml(GRAFANA_PROVISIONING / "dashboards" / "dashboards.yml")["providers"]
    assert host_path(grafana, provider["options"]["path"]) == DASHBOARDS.resolve()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path(grafana, home) == DASHBOARD.resolve()
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


# ---------------------------------------------------------------------------------- the image


def test_the_image_is_pinned_python_3_11_installs_the_pinned_stack_and_runs_as_a_user():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    (base,) = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base), base
    assert "pip install --no-cache-dir -c constraints.txt ." in DOCKERFILE.read_text()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users


def test_the_build_context_leaves_out_the_venv_git_and_test_output():
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".venv", ".git", "test-output", "tests"} <= ignored


# ---------------------------------------------------------------------------------- prometheus


def test_promtool_accepts_the_alert_rules():
    assert "SUCCESS" in promtool("check", "rules", RULES).stdout


def test_promtool_accepts_the_prometheus_config():
    assert "SUCCESS" in promtool("check", "config", PROMETHEUS_CONFIG).stdout


def test_the_alert_rules_pass_their_unit_tests(tmp_path: Path):
    """rules.test.yml states labels and summaries; the prose descriptions are left out of the copy."""
    rules = load_yaml(RULES)
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.get("annotations", {}).pop("description", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / "rules.test.yml")
    promtool("test", "rules", "rules.test.yml", cwd=tmp_path)


def test_every_dashboard_query_is_valid_promql(tmp_path: Path):
    queries = dashboard_expressions()
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": query.promql} for i, query in enumerate(queries)]}]}
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump(rules))
    assert f"{len(queries)} rules found" in promtool("check", "rules", tmp_path / "dashboard.rules.yml").stdout


def test_the_requested_alerts_exist():
    names = {rule["alert"] for rule in alert_rules()}
    assert {"LeadstreamConsumerLagGrowing", "LeadstreamDeadLetterSpike", "LeadstreamMqlRateDrop",
            "LeadstreamMqlRateJump", "LeadstreamSalesAlertsDeadLettered"} <= names


def test_every_alert_waits_carries_a_severity_and_explains_itself():
    for rule in alert_rules():
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{rule['alert']}: no `for`"
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_the_mql_alerts_compare_with_the_day_before():
    for rule in alert_rules():
        if rule["alert"].startswith("LeadstreamMqlRate"):
            assert 'to_stage="mql"' in rule["expr"] and "offset 1d" in rule["expr"], rule["alert"]


# ---------------------------------------------------------------------------------- dashboard


def test_the_dashboard_is_provisionable():
    board = dashboard()
    assert board["uid"] == "leadstream"
    assert board["schemaVersion"] >= 38
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS.glob("*.json")]
    assert len(uids) == len(set(uids))


def test_every_panel_has_a_title_and_queries_prometheus_by_uid():
    for panel in panels():
        assert panel.get("title"), panel.get("id")
        targets = panel.get("targets", [])
        assert targets, f"{panel['title']}: no targets"
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
        ref_ids = [target["refId"] for target in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target.get("expr", "").strip(), f"{panel['title']} {target['refId']}: empty query"
            assert target.get("datasource", panel["datasource"])["uid"] == "prometheus", panel["title"]


def test_panel_ids_are_unique():
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids))


def test_panels_fit_the_grid_without_overlapping():
    boxes = []
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["y"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= GRID_WIDTH, panel["title"]
        boxes.append((panel["title"], grid))
    for (first, a), (second, b) in combinations(boxes, 2):
        apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                 or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
        assert apart, f"{first!r} overlaps {second!r}"


def test_the_funnel_shows_every_stage_in_funnel_order():
    (funnel,) = [panel for panel in panels() if panel["title"].startswith("Lead funnel")]
    shown = [target["legendFormat"] for target in funnel["targets"]]
    assert set(shown) == {stage.value for stage in Stage}
    assert shown[:5] == ["new", "iql", "mql", "pql", "sql"]


def test_label_values_in_queries_are_real_stages_and_temperatures():
    stages, temperatures = {s.value for s in Stage}, {t.value for t in Temperature}
    for expression in all_expressions():
        for label, value in re.findall(r'\b(\w+)\s*!?=\s*"([^"]*)"', expression.promql):
            if label.endswith("stage"):
                assert value in stages, f"{expression.where}: stage {value!r}"
            if label.endswith("temperature"):
                assert value in temperatures, f"{expression.where}: temperature {value!r}"


# ---------------------------------------------------------------------------------- metric names


def test_metric_names_are_found_in_promql_however_it_is_written():
    promql = ('histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{reason="x{y}"}[5m] offset 1d)))'
              ' / on(job) group_left b_total * 1e-9 + {__name__="c"} or vector(0)  # d_total')
    assert metric_names_in(promql) == {"a_seconds_bucket", "b_total", "c"}
    assert metric_names_in("deriv(sum(lag)[10m:1m]) > 0 and sum without (partition) (lag) > 1000") == {"lag"}


def test_the_dashboard_and_rules_read_only_leadstream_metrics_naming_histograms_by_base_name():
    refs = referenced_metrics()
    assert all(name.startswith("leadstream_") for name in refs), sorted(refs)
    assert {name for name, ref in refs.items() if ref.histogram} == {
        "leadstream_qualification_event_latency_seconds",
        "leadstream_qualification_ingest_latency_seconds",
        "leadstream_alert_delivery_seconds",
        "leadstream_collector_request_seconds",
        "leadstream_crm_write_seconds",
    }
    assert refs["leadstream_alerts_delivered_total"].process == "alerts"
    assert refs["leadstream_collector_requests_total"].process == "collector"
    assert refs["leadstream_crm_records_written_total"].process == "crm"
    assert refs["leadstream_consumer_lag"].process == "worker"
    assert "leadstream_alert_delivery_seconds_bucket" in refs["leadstream_alert_delivery_seconds"].sample_names
