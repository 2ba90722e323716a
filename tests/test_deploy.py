"""The deployment files: Kubernetes manifests valid against the schemas, the image's shape."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
VERSION = "1.30.0"


def documents() -> list[tuple[str, dict[str, object]]]:
    found = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        found += [
            (f"{path.name}:{doc['kind']}", doc)
            for doc in yaml.safe_load_all(path.read_text())
            if doc
        ]
    return found


@pytest.mark.parametrize(
    ("name", "document"), documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_manifest_is_valid_and_strict(name: str, document: dict[str, object]) -> None:
    kubernetes_validate.validate(document, VERSION, strict=True)


def test_the_check_refuses_a_broken_manifest() -> None:
    deployment = next(d for n, d in documents() if n == "api.yaml:Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "three"}}  # type: ignore[dict-item]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)
    unknown = {**deployment, "spec": {**deployment["spec"], "replica": 3}}  # type: ignore[dict-item]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, VERSION, strict=True)


def test_what_the_platform_needs_is_there() -> None:
    kinds = {name.split(":")[1] for name, _ in documents()}
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "Job",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    } <= kinds
    api = next(d for n, d in documents() if n == "api.yaml:Deployment")
    container = api["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["spec"]["replicas"] >= 2  # type: ignore[index]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    final = dockerfile.split("\nFROM ")[-1]
    assert "USER 10001" in final
    assert "HEALTHCHECK" in final
    assert "build-essential" not in final  # compilers stay in the build stage
