"""The packaging, checked without building an image: Dockerfile, compose and Kubernetes.

`scripts/lint-deploy` runs the same linters (and checkov); these tests keep the files
consistent with each other and with the app's drain.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SETTLE_SECONDS = 3  # graph/lifecycle.py


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(BIN))
    if found is None:
        pytest.skip(f"{name} is not installed (see scripts/lint-deploy)")
    return found


def _rendered() -> list[dict[str, Any]]:
    output = subprocess.run(  # noqa: S603 - our own tools on our own files
        [_tool("kubectl"), "kustomize", str(ROOT / "deploy/k8s")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def _env(dockerfile: str) -> dict[str, str]:
    return dict(re.findall(r"\b([A-Z_]+)=(\S+?)(?:\s*\\)?$", dockerfile, re.MULTILINE))


def test_given_the_dockerfile_when_hadolint_reads_it_then_it_has_nothing_to_say() -> None:
    result = subprocess.run(  # noqa: S603 - our own tools on our own files
        [_tool("hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_given_the_dockerfile_then_it_is_multi_stage_non_root_locked_and_health_checked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    assert re.search(r"^USER 10001", text, re.MULTILINE)
    assert "--require-hashes" in text
    assert "requirements.lock" in text
    assert re.search(r"^HEALTHCHECK .*", text, re.MULTILINE)
    env = _env(text)
    assert float(env["SHUTDOWN_DRAIN_SECONDS"]) > 0
    assert "--timeout-graceful-shutdown" in (ROOT / "deploy/entrypoint.sh").read_text()


def test_given_the_lock_file_then_every_requirement_is_pinned_with_a_hash() -> None:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [line for line in lines if re.match(r"^[A-Za-z0-9]", line)]
    assert pins
    assert all("==" in pin and pin.endswith("\\") for pin in pins), pins
    names = {pin.split("==")[0] for pin in pins}
    assert {"prometheus-client", "opentelemetry-sdk", "strawberry-graphql", "uvicorn"} <= names


def test_given_compose_then_two_replicas_start_after_the_migration_with_time_to_drain() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"app", "migrate", "postgres", "redis"} <= services.keys()
    app = services["app"]
    assert app["deploy"]["replicas"] == 2
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    assert "healthcheck" in services["redis"]
    env = app["environment"]
    needed = float(env["SHUTDOWN_DRAIN_SECONDS"]) + float(env["GRACEFUL_SHUTDOWN_SECONDS"])
    assert int(app["stop_grace_period"].rstrip("s")) > needed + SETTLE_SECONDS


def test_given_the_kustomization_when_rendered_then_it_passes_the_kubernetes_schemas() -> None:
    kubectl = _tool("kubectl")
    validate = _tool("kubernetes-validate")
    render = subprocess.run(  # noqa: S603 - our own tools on our own files
        [kubectl, "kustomize", str(ROOT / "deploy/k8s")], capture_output=True, text=True
    )
    assert render.returncode == 0, render.stderr
    result = subprocess.run(  # noqa: S603 - our own tools on our own files
        [validate, "--strict", "--quiet", "-k", "1.30.0", "-"],
        input=render.stdout,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_given_the_rendered_manifests_then_every_required_resource_is_there() -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in _rendered()}
    for kind in ("Deployment", "Service", "Job", "PodDisruptionBudget"):
        assert any(k == kind for k, _ in kinds), kind
    assert ("HorizontalPodAutoscaler", "taskgraph") in kinds
    assert ("Secret", "taskgraph") in kinds
    secret = next(doc for doc in _rendered() if doc["kind"] == "Secret")
    assert {"JWT_SECRET", "DATABASE_URL"} <= secret["stringData"].keys()


def test_given_the_deployment_then_probes_prestop_and_grace_cover_the_drain() -> None:
    docs = _rendered()
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    config = next(doc for doc in docs if doc["kind"] == "ConfigMap")["data"]
    pod = deployment["spec"]["template"]["spec"]
    [api] = pod["containers"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["resources"]["requests"]
    assert api["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    pre_stop = float(api["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = float(config["SHUTDOWN_DRAIN_SECONDS"])
    grace = float(config["GRACEFUL_SHUTDOWN_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain + grace + SETTLE_SECONDS
    # Readiness must notice the drain's 503 well within the drain.
    readiness = api["readinessProbe"]
    assert readiness["periodSeconds"] * readiness["failureThreshold"] < drain


def test_given_checkov_when_it_scans_the_packaging_then_nothing_fails() -> None:
    checkov = shutil.which("checkov") or str(ROOT / "var/lint-venv/bin/checkov")
    if not Path(checkov).exists():
        pytest.skip("checkov is not installed (see scripts/lint-deploy)")
    result = subprocess.run(  # noqa: S603 - our own tools on our own files
        [str(ROOT / "scripts/lint-deploy")],
        capture_output=True,
        text=True,
        env={"CHECKOV": checkov, "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin"},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
