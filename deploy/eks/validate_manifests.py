"""Validate rendered Kubernetes manifests offline.

Core kinds are checked against the Kubernetes OpenAPI schema of one stated version with the
kubernetes-validate package (strict: unknown fields are errors). The custom resources this service uses
(ServiceMonitor, PrometheusRule, ScaledObject, AnalysisTemplate) have no schema in that package, and their CRDs
come from the operators installed in the cluster (kube-prometheus-stack, KEDA, Argo Rollouts) at whatever
version the cluster runs, so they get a structural check of the fields we rely on instead. Any other kind is
an error: a new kind must be added here deliberately.

Usage: python deploy/eks/validate_manifests.py [--kubernetes-version 1.35] FILE [FILE...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import kubernetes_validate
import yaml

# The oldest Kubernetes minor this deploy supports (EKS 1.35 to 1.37, docs/deploy-eks.md): the fields it
# accepts are accepted by the newer ones too. Raise it when the oldest supported version goes.
KUBERNETES_VERSION = "1.35"


@dataclass(frozen=True)
class Finding:
    source: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.resource}: {self.message}"


def load_documents(text: str) -> list[dict]:
    """Every non-empty YAML document of a multi-document stream."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def resource_id(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '?')}/{meta.get('namespace', '-')}/{meta.get('name', '?')}"


def _require(obj: dict, dotted: str) -> list[str]:
    node: object = obj
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node or node[part] in (None, "", [], {}):
            return [f"missing {dotted}"]
        node = node[part]
    return []


def _check_service_monitor(obj: dict) -> list[str]:
    errors = _require(obj, "spec.selector.matchLabels") + _require(obj, "spec.endpoints")
    for i, endpoint in enumerate(obj.get("spec", {}).get("endpoints") or []):
        if not endpoint.get("port") and not endpoint.get("targetPort"):
            errors.append(f"spec.endpoints[{i}] names no port")
    return errors


def _check_prometheus_rule(obj: dict) -> list[str]:
    errors = _require(obj, "spec.groups")
    for group in obj.get("spec", {}).get("groups") or []:
        name = group.get("name")
        if not name:
            errors.append("a rule group has no name")
        for rule in group.get("rules") or []:
            if not (rule.get("alert") or rule.get("record")) or not rule.get("expr"):
                errors.append(f"group {name}: every rule needs alert or record, and expr")
        if not group.get("rules"):
            errors.append(f"group {name} has no rules")
    return errors


def _check_scaled_object(obj: dict) -> list[str]:
    errors = _require(obj, "spec.scaleTargetRef.name") + _require(obj, "spec.triggers")
    for i, trigger in enumerate(obj.get("spec", {}).get("triggers") or []):
        if not trigger.get("type") or not isinstance(trigger.get("metadata"), dict):
            errors.append(f"spec.triggers[{i}] needs type and metadata")
    return errors


def _check_analysis_template(obj: dict) -> list[str]:
    errors = _require(obj, "spec.metrics")
    for metric in obj.get("spec", {}).get("metrics") or []:
        name = metric.get("name")
        if not name or not (metric.get("provider") or {}).get("prometheus", {}).get("query"):
            errors.append(f"metric {name}: every metric needs a name and a Prometheus query")
        if not metric.get("successCondition") or not metric.get("failureCondition"):
            errors.append(f"metric {name}: both conditions, so that neither met is Inconclusive (hold)")
    return errors


# (apiVersion, kind) -> structural check. Reason for not using a schema: see the module docstring.
CUSTOM_RESOURCE_CHECKS: dict[tuple[str, str], Callable[[dict], list[str]]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _check_service_monitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): _check_prometheus_rule,
    ("keda.sh/v1alpha1", "ScaledObject"): _check_scaled_object,
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): _check_analysis_template,
}


def validate_object(obj: dict, kubernetes_version: str = KUBERNETES_VERSION) -> list[str]:
    """Error messages for one object; empty when it is valid."""
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    errors = _require(obj, "metadata.name")
    custom_check = CUSTOM_RESOURCE_CHECKS.get(key)
    if custom_check is not None:
        return errors + custom_check(obj)
    try:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        errors.append(f"schema {exc.version}: {path}: {exc.message}")
    except kubernetes_validate.SchemaNotFoundError as exc:
        errors.append(f"no schema and no custom check for this kind ({exc.message})")
    return errors


def validate_documents(
    docs: Iterable[dict], source: str, kubernetes_version: str = KUBERNETES_VERSION
) -> list[Finding]:
    return [
        Finding(source, resource_id(obj), message)
        for obj in docs
        for message in validate_object(obj, kubernetes_version)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)

    failed = 0
    for path in args.files:
        docs = load_documents(path.read_text())
        findings = validate_documents(docs, str(path), args.kubernetes_version)
        for finding in findings:
            sys.stderr.write(f"INVALID {finding}\n")
        failed += len(findings)
        custom = sum((d.get("apiVersion"), d.get("kind")) in CUSTOM_RESOURCE_CHECKS for d in docs)
        sys.stdout.write(
            f"{path}: {len(docs)} objects, {len(findings)} errors (Kubernetes {args.kubernetes_version} "
            f"schema; {custom} custom resources structurally checked)\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
