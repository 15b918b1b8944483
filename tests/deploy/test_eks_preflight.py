"""preflight.py against fake kubectl and aws on PATH that answer with the real CLIs' JSON shapes: a cluster with
everything passes; each missing piece is one line naming it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eks_support import EKS_DIR, fake_tools_dir


def items(*objects: dict) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}).replace("\\", "\\\\")


def workload(name: str, image: str, args: list[str] | None = None, ready: int = 1) -> dict:
    container = {"name": name, "image": image, "args": args or []}
    spec = {"template": {"spec": {"containers": [container]}}}
    return {"metadata": {"name": name}, "spec": spec, "status": {"readyReplicas": ready}}


def apiservice(name: str, available: bool = True) -> dict:
    condition = {"type": "Available", "status": "True" if available else "False"}
    return {"metadata": {"name": name}, "status": {"conditions": [condition]}}


VERSION = json.dumps({"clientVersion": {"minor": "36"}, "serverVersion": {"minor": "36+"}})
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
COMPLETE = {
    "daemonsets --all-namespaces": items(workload("nvidia-device-plugin", "nvcr.io/nvidia/k8s-device-plugin:v0.17.0")),
    "daemonsets --namespace kube-system": items(
        workload("aws-node", "amazon-k8s-cni:v1.19", ["--enable-network-policy=true"])
    ),
    "deployments": items(workload("aws-load-balancer-controller", "eks/aws-load-balancer-controller:v2.11.0")),
    "apiservices": items(apiservice("v1beta1.metrics.k8s.io"), apiservice("v1beta1.external.metrics.k8s.io")),
    "customresourcedefinitions": items({"metadata": {"name": "servicemonitors.monitoring.coreos.com"}}),
    "nodes": items(),
}


def run_preflight(tmp_path: Path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    kubectl = [("version -o json*", 0, VERSION)] + [(f"get {k}*", 0, v) for k, v in answers.items()]
    aws = [
        ("eks describe-cluster*", 0, json.dumps({"cluster": {"identity": {"oidc": {"issuer": ISSUER}}}})),
        (
            "iam list-open-id-connect-providers*",
            0,
            json.dumps({"OpenIDConnectProviderList": [{"Arn": f"arn:aws:iam::1:oidc-provider/{ISSUER[8:]}"}]}),
        ),
    ]
    fakes = fake_tools_dir(tmp_path / "bin", tmp_path / "calls.log", {"kubectl": kubectl, "aws": aws})
    return subprocess.run(
        [sys.executable, str(EKS_DIR / "preflight.py"), "prod", "eu-west-1", "keda", "arn:aws:iam::1:role/triton"],
        env={"PATH": f"{fakes}:/usr/bin:/bin", "KUBECTL": str(fakes / "kubectl")},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_complete_cluster_passes(tmp_path: Path) -> None:
    result = run_preflight(tmp_path, COMPLETE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all present" in result.stdout


@pytest.mark.parametrize(
    ("key", "answer", "line"),
    [
        ("daemonsets --all-namespaces", items(), "NVIDIA device plugin"),
        ("daemonsets --namespace kube-system", items(workload("aws-node", "amazon-k8s-cni:v1.19")), "NetworkPolicy"),
        ("deployments", items(), "AWS Load Balancer Controller"),
        ("apiservices", items(apiservice("v1beta1.metrics.k8s.io")), "KEDA's metrics API"),
        ("customresourcedefinitions", items(), "Prometheus Operator"),
    ],
)
def test_each_missing_piece_is_one_line(tmp_path: Path, key: str, answer: str, line: str) -> None:
    result = run_preflight(tmp_path, {**COMPLETE, key: answer})
    assert result.returncode == 1
    (missing,) = [m for m in result.stdout.splitlines() if m.startswith("missing: ")]
    assert line in missing
