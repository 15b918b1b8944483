"""The manifest validator catches what it must: schema errors, broken custom resources, unknown kinds."""

from pathlib import Path
from types import ModuleType

import pytest
import yaml

pytestmark = pytest.mark.fast

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "x", "namespace": "sentiment"},
    "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "template": {
            "metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "x", "image": "x:1"}]},
        },
    },
}


def test_a_valid_deployment_passes(validator: ModuleType) -> None:
    assert validator.validate_object(DEPLOYMENT) == []


def test_unknown_fields_are_rejected(validator: ModuleType) -> None:
    broken = {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "replica": 2}}
    (error,) = validator.validate_object(broken)
    assert "replica" in error


def test_wrong_types_are_rejected(validator: ModuleType) -> None:
    template = DEPLOYMENT["spec"]["template"]
    container = {"name": "x", "image": "x:1", "ports": [{"containerPort": "8080"}]}
    broken = {
        **DEPLOYMENT,
        "spec": {**DEPLOYMENT["spec"], "template": {**template, "spec": {"containers": [container]}}},
    }
    assert validator.validate_object(broken)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "t"}, "spec": {}},
            "missing spec.scaleTargetRef.name",
        ),
        (
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {"name": "r"},
                "spec": {"groups": [{"name": "g", "rules": [{"alert": "A"}]}]},
            },
            "every rule needs alert or record, and expr",
        ),
        (
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": {"name": "m"},
                "spec": {"selector": {"matchLabels": {"a": "b"}}, "endpoints": [{"path": "/metrics"}]},
            },
            "names no port",
        ),
        (
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
            "no schema and no custom check",
        ),
    ],
)
def test_custom_resources_get_structural_checks(validator: ModuleType, obj: dict, message: str) -> None:
    errors = validator.validate_object(obj)
    assert any(message in e for e in errors), errors


def test_cli_exit_status(validator: ModuleType, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(DEPLOYMENT))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**DEPLOYMENT, "spec": {"selector": {}}}))
    assert validator.main([str(good)]) == 0
    assert validator.main([str(good), str(bad)]) == 1
