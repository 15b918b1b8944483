"""preflight.py against fake kubectl and aws on PATH that answer with the real CLIs' JSON shapes: a cluster with
everything passes; each missing piece is one line naming it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eks_support import (
    COMPLETE,
    EKS_DIR,
    ISSUER,
    Rules,
    apiservice,
    cluster_rules,
    fake_tools_dir,
    items,
    workload,
)

pytestmark = pytest.mark.fast

ROLE_ARN = "arn:aws:iam::1:role/triton"


def run_preflight(tmp_path: Path, rules: Rules, role_arn: str = ROLE_ARN) -> subprocess.CompletedProcess:
    fakes = fake_tools_dir(tmp_path / "bin", tmp_path / "calls.log", rules)
    return subprocess.run(
        [sys.executable, str(EKS_DIR / "preflight.py"), "prod", "eu-west-1", "keda", role_arn],
        env={"PATH": f"{fakes}:/usr/bin:/bin", "KUBECTL": str(fakes / "kubectl")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def only_missing_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    (missing,) = [m for m in result.stdout.splitlines() if m.startswith("missing: ")]
    return missing


@pytest.mark.parametrize("server_minor", ["35", "36", "37"])
def test_a_complete_cluster_passes_on_every_documented_version(tmp_path: Path, server_minor: str) -> None:
    """The client side is the project's pinned kubectl, so the skew check judges the wheel actually installed."""
    result = run_preflight(tmp_path, cluster_rules(server_minor=server_minor))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all present" in result.stdout


@pytest.mark.parametrize("server_minor", ["33", "38"])
def test_a_cluster_outside_the_documented_versions_is_refused(tmp_path: Path, server_minor: str) -> None:
    line = only_missing_line(run_preflight(tmp_path, cluster_rules(server_minor=server_minor)))
    assert f"it runs Kubernetes 1.{server_minor}; supported are EKS 1.35, 1.36, 1.37" in line


@pytest.mark.parametrize(
    ("key", "answer", "line"),
    [
        ("daemonsets --all-namespaces", items(), "NVIDIA device plugin"),
        ("daemonsets --namespace kube-system", items(workload("aws-node", "amazon-k8s-cni:v1.19")), "NetworkPolicy"),
        ("deployments", items(), "AWS Load Balancer Controller"),
        ("apiservices", items(apiservice("v1beta1.metrics.k8s.io")), "KEDA's metrics API"),
        (
            "customresourcedefinitions",
            items({"metadata": {"name": "analysistemplates.argoproj.io"}}),
            "Prometheus Operator",
        ),
        (
            "customresourcedefinitions",
            items({"metadata": {"name": "servicemonitors.monitoring.coreos.com"}}),
            "Argo Rollouts: no AnalysisTemplate CRD",
        ),
    ],
)
def test_each_missing_piece_is_one_line(tmp_path: Path, key: str, answer: str, line: str) -> None:
    assert line in only_missing_line(run_preflight(tmp_path, cluster_rules({**COMPLETE, key: answer})))


def test_irsa_without_the_clusters_oidc_provider_is_one_line(tmp_path: Path) -> None:
    rules = cluster_rules()
    other = {
        "OpenIDConnectProviderList": [{"Arn": "arn:aws:iam::1:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER"}]
    }
    rules["aws"].insert(0, ("iam list-open-id-connect-providers*", 0, json.dumps(other)))
    line = only_missing_line(run_preflight(tmp_path, rules))
    assert f"IRSA: the OIDC issuer {ISSUER} is no IAM identity provider" in line


@pytest.mark.parametrize("associations", [[], [{"associationId": "a-1", "serviceAccount": "triton"}]])
def test_without_a_role_pod_identity_must_cover_tritons_service_account(tmp_path: Path, associations: list) -> None:
    rules = cluster_rules()
    answer = json.dumps({"associations": associations})
    rules["aws"].append(
        (
            "eks list-pod-identity-associations --cluster-name prod --namespace sentiment --service-account triton*",
            0,
            answer,
        )
    )
    result = run_preflight(tmp_path, rules, role_arn="")
    if associations:
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        assert "no TRITON_S3_ROLE_ARN (IRSA) and no Pod Identity association for sentiment/triton" in only_missing_line(
            result
        )
