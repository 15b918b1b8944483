"""The eksctl ClusterConfig in deploy/eks/cluster gives the manifests what they select and preflight.py asks for."""

import json

import pytest
import yaml
from eks_support import EKS_DIR, Rendered, load_script

pytestmark = pytest.mark.fast

CONFIG = yaml.safe_load((EKS_DIR / "cluster" / "eksctl-cluster.yaml").read_text())
GPU_LABEL = "nvidia.com/gpu.present"


def test_the_cluster_runs_a_supported_version_with_karpenter_and_oidc() -> None:
    assert (CONFIG["apiVersion"], CONFIG["kind"]) == ("eksctl.io/v1alpha5", "ClusterConfig")
    major, minor = CONFIG["metadata"]["version"].split(".")
    assert major == "1" and int(minor) in load_script("preflight").EKS_MINORS
    assert CONFIG["iam"]["withOIDC"] is True, "eksctl installs Karpenter only with OIDC"
    assert CONFIG["karpenter"]["version"]


def test_the_gpu_node_class_finds_the_clusters_subnets() -> None:
    docs = [d for d in yaml.safe_load_all((EKS_DIR / "karpenter" / "gpu-nodepool.yaml").read_text()) if d]
    (node_class,) = [d for d in docs if d["kind"] == "EC2NodeClass"]
    (discovery,) = node_class["spec"]["subnetSelectorTerms"][0]["tags"]
    assert CONFIG["metadata"]["tags"][discovery] == CONFIG["metadata"]["name"]


def test_the_add_ons_the_release_relies_on_are_installed() -> None:
    addons = {a["name"]: a for a in CONFIG["addons"]}
    assert {"vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "metrics-server"} <= set(addons)
    assert json.loads(addons["vpc-cni"]["configurationValues"])["enableNetworkPolicy"] == "true"


def test_cpu_nodes_take_the_gateway_and_no_gpu_workload(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")["spec"]["template"]["spec"]
    (term,) = gateway["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": GPU_LABEL, "operator": "DoesNotExist"} in term["matchExpressions"]
    for group in CONFIG["managedNodeGroups"]:
        assert GPU_LABEL not in group.get("labels", {}) and not group.get("taints"), group["name"]
        assert group["minSize"] >= 2, "a node drained for an update must leave a gateway replica running"


def test_triton_s_service_account_may_read_the_model_bucket(rendered: Rendered) -> None:
    account = rendered.get("ServiceAccount", "triton")["metadata"]
    (association,) = [
        a
        for a in CONFIG["iam"]["podIdentityAssociations"]
        if (a["namespace"], a["serviceAccountName"]) == (account["namespace"], account["name"])
    ]
    actions = {action for s in association["permissionPolicy"]["Statement"] for action in s["Action"]}
    assert {"s3:GetObject", "s3:ListBucket"} <= actions
