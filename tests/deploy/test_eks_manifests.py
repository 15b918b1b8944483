"""Properties of the rendered EKS manifests that issue 5 asks for, checked on every deploy variant."""

import json
import re

import pytest
import yaml
from eks_support import (
    EKS_DIR,
    IMAGE_TAG,
    MODEL_S3_URI,
    REGISTRY,
    TRITON_S3_ROLE_ARN,
    Rendered,
)

pytestmark = pytest.mark.fast

NAMESPACE = "sentiment"
GPU = "nvidia.com/gpu"
GPU_LABEL = "nvidia.com/gpu.present"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
# NVIDIA GPU families that run the onnxruntime backend: T4, A10G, L4, L40S.
GPU_FAMILIES = {"g4dn", "g5", "g6", "g6e"}
TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:26.08-py3"
QUEUE_METRIC = "nv_inference_queue_duration_us"
SUCCESS_METRIC = "nv_inference_request_success"


def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def container(deployment: dict) -> dict:
    containers = pod_spec(deployment)["containers"]
    assert len(containers) == 1, "one container per pod"
    return containers[0]


def container_port(deployment: dict, port: str | int) -> int:
    """The containerPort a probe or Service targetPort refers to, by name or number."""
    ports = container(deployment)["ports"]
    if isinstance(port, int):
        assert port in [p["containerPort"] for p in ports], f"port {port} is not a container port"
        return port
    by_name = {p["name"]: p["containerPort"] for p in ports}
    assert port in by_name, f"port name {port!r} is not a container port"
    return by_name[port]


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def test_every_object_validates_against_the_kubernetes_schema(rendered: Rendered, validator) -> None:
    findings = validator.validate_documents(rendered.objects, rendered.variant.name)
    assert not findings, "\n".join(map(str, findings))
    assert validator.KUBERNETES_VERSION == "1.35"


def test_everything_lives_in_the_restricted_namespace(rendered: Rendered) -> None:
    namespace = rendered.get("Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in rendered.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]["name"]


def test_recommended_labels(rendered: Rendered) -> None:
    expected = {
        "app.kubernetes.io/part-of": "sentiment",
        "app.kubernetes.io/managed-by": "kustomize",
        "app.kubernetes.io/instance": f"sentiment-{rendered.variant.overlay}",
    }
    if rendered.variant.via_deploy_script:
        expected |= {"app.kubernetes.io/managed-by": "deploy.sh", "app.kubernetes.io/version": IMAGE_TAG}
    for obj in rendered.objects:
        labels = obj["metadata"].get("labels", {})
        assert expected.items() <= labels.items(), f"{obj['kind']}/{obj['metadata']['name']}: {labels}"
    for deployment in rendered.of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert expected.items() <= labels.items(), deployment["metadata"]["name"]
        assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= set(labels)
        # Selectors are immutable: they keep only the stable name, never the instance or version.
        name = deployment["metadata"]["name"]
        assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}


def gpu_instance_types(triton: dict) -> list[str]:
    """The instance types Triton's required node affinity allows."""
    affinity = pod_spec(triton)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    (term,) = affinity["nodeSelectorTerms"]
    (expression,) = [e for e in term["matchExpressions"] if e["key"] == INSTANCE_TYPE]
    assert expression["operator"] == "In"
    return expression["values"]


def test_triton_is_scheduled_on_gpu_nodes(rendered: Rendered) -> None:
    triton = rendered.get("Deployment", "triton")
    spec = pod_spec(triton)
    assert spec["nodeSelector"][GPU_LABEL] == "true"
    assert INSTANCE_TYPE not in spec["nodeSelector"], "a list of types, by affinity, not one type"
    assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    resources = container(triton)["resources"]
    assert resources["limits"][GPU] == "1"
    assert resources["requests"][GPU] == "1"
    # Karpenter must not consolidate a node from under a serving Triton.
    assert triton["spec"]["template"]["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"


def test_gpu_placement_is_a_list_of_families_per_overlay(rendered: Rendered) -> None:
    types = gpu_instance_types(rendered.get("Deployment", "triton"))
    size = {"staging": "xlarge", "production": "2xlarge"}[rendered.variant.overlay]
    families = [t.split(".")[0] for t in types]
    assert all(t.split(".")[1] == size for t in types), types
    assert len(set(families)) >= 3, "more than one GPU family, so one short family does not leave Triton pending"
    assert set(families) <= GPU_FAMILIES


def test_karpenter_example_offers_what_triton_asks_for(rendered: Rendered) -> None:
    docs = [d for d in yaml.safe_load_all((EKS_DIR / "karpenter" / "gpu-nodepool.yaml").read_text()) if d]
    (pool,) = [d for d in docs if d["kind"] == "NodePool"]
    (node_class,) = [d for d in docs if d["kind"] == "EC2NodeClass"]
    template = pool["spec"]["template"]
    requirements = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
    triton = rendered.get("Deployment", "triton")
    for instance_type in gpu_instance_types(triton):
        family, size = instance_type.split(".")
        assert family in requirements["karpenter.k8s.aws/instance-family"], instance_type
        assert size in requirements["karpenter.k8s.aws/instance-size"], instance_type
    assert template["metadata"]["labels"][GPU_LABEL] == pod_spec(triton)["nodeSelector"][GPU_LABEL]
    (taint,) = template["spec"]["taints"]
    assert {"key": taint["key"], "operator": "Exists", "effect": taint["effect"]} in pod_spec(triton)["tolerations"]
    assert node_class["metadata"]["name"] == template["spec"]["nodeClassRef"]["name"]
    # The Triton image is about 15 GB unpacked; a 20 GiB default root volume cannot hold it.
    (root,) = node_class["spec"]["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    size = root["ebs"]["volumeSize"]
    assert size.endswith("Gi") and int(size[:-2]) >= 100


def test_triton_starts_through_the_ngc_entrypoint(rendered: Rendered) -> None:
    main = container(rendered.get("Deployment", "triton"))
    assert "command" not in main, "command would replace NGC's nvidia_entrypoint.sh"
    assert main["args"][0] == "tritonserver"


def test_gateway_never_runs_on_gpu_nodes(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    spec = pod_spec(gateway)
    assert GPU_LABEL not in spec["nodeSelector"]
    assert not any(t.get("key") == GPU for t in spec.get("tolerations", [])), "must not tolerate the GPU taint"
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    for term in terms:
        assert {"key": GPU_LABEL, "operator": "DoesNotExist"} in term["matchExpressions"]
    resources = container(gateway)["resources"]
    assert GPU not in resources["limits"]
    assert GPU not in resources["requests"]


def test_triton_probes_ports_and_service_agree(rendered: Rendered) -> None:
    triton = rendered.get("Deployment", "triton")
    main = container(triton)
    assert sorted(p["containerPort"] for p in main["ports"]) == [8000, 8001, 8002]
    assert main["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert main["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert main["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container_port(triton, main[probe]["httpGet"]["port"]) == 8000
    args = " ".join(main["args"])
    for flag in ("--http-port=8000", "--grpc-port=8001", "--metrics-port=8002"):
        assert flag in args

    service = rendered.get("Service", "triton")
    assert service["spec"]["type"] == "ClusterIP"
    assert selects({"matchLabels": service["spec"]["selector"]}, triton["spec"]["template"]["metadata"]["labels"])
    ports = {p["name"]: (p["port"], container_port(triton, p["targetPort"])) for p in service["spec"]["ports"]}
    assert ports == {"http": (8000, 8000), "grpc": (8001, 8001), "metrics": (8002, 8002)}


def test_gateway_probes_ports_and_exposure_agree(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    main = container(gateway)
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container_port(gateway, main[probe]["httpGet"]["port"]) == 8080

    config = rendered.configmap("gateway-config")["data"]
    assert config["GATEWAY_PORT"] == "8080"
    assert config["GATEWAY_HOST"] == "0.0.0.0"
    assert config["GATEWAY_TRITON_URL"] == "triton:8000"
    env_from = [e["configMapRef"]["name"] for e in main["envFrom"]]
    assert env_from == [rendered.configmap("gateway-config")["metadata"]["name"]]

    service = rendered.get("Service", "gateway")
    assert selects({"matchLabels": service["spec"]["selector"]}, gateway["spec"]["template"]["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    assert container_port(gateway, port["targetPort"]) == 8080
    annotations = service["metadata"].get("annotations", {})
    if rendered.variant.exposure == "nlb":
        assert service["spec"]["type"] == "LoadBalancer"
        assert service["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"] == "/readyz"
        expected_scheme = "internet-facing" if rendered.variant.overlay == "production" else "internal"
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == expected_scheme
        assert not rendered.of_kind("Ingress")
    else:
        assert service["spec"]["type"] == "ClusterIP"
        assert not annotations
        ingress = rendered.get("Ingress", "gateway")
        assert ingress["spec"]["ingressClassName"] == "alb"
        assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-path"] == "/readyz"
        paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
        assert {p["path"] for p in paths} == {"/", "/v1/"}, "only the public API goes through the ALB"
        for path in paths:
            assert path["backend"]["service"] == {"name": "gateway", "port": {"name": port["name"]}}


def test_pods_are_locked_down(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        spec = pod_spec(deployment)
        assert spec["automountServiceAccountToken"] is False, name
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert pod_security["runAsUser"] >= 10000, name
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", name
        for c in spec["containers"]:
            security = c["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["privileged"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in security["capabilities"], name
    for account in rendered.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_every_container_has_requests_and_limits(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        for c in pod_spec(deployment)["containers"] + pod_spec(deployment).get("initContainers", []):
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (deployment["metadata"]["name"], kind)


MEBIBYTES = {"Mi": 1, "Gi": 1024}


def mebibytes(quantity: str) -> int:
    return int(quantity[:-2]) * MEBIBYTES[quantity[-2:]]


def test_gateway_memory_limit_holds_every_worker_at_its_bound(rendered: Rendered) -> None:
    # docs/reliability.md: 400 MB RSS per worker at most, about 50 MB for the uvicorn supervisor.
    workers = int(rendered.configmap("gateway-config")["data"]["GATEWAY_WORKERS"])
    resources = container(rendered.get("Deployment", "gateway"))["resources"]
    assert mebibytes(resources["limits"]["memory"]) >= workers * 400 + 50
    assert mebibytes(resources["requests"]["memory"]) <= mebibytes(resources["limits"]["memory"])


def test_images_are_pinned(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        image = container(deployment)["image"]
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image} has no tag"
        assert tag != "latest"
    # The stock NGC image, whatever the release (the model comes from S3); the gateway is the release's.
    assert container(rendered.get("Deployment", "triton"))["image"] == TRITON_IMAGE
    if rendered.variant.via_deploy_script:
        expected_gateway = f"{REGISTRY}/sentiment-gateway:{IMAGE_TAG}"
    else:
        expected_gateway = "sentiment-gateway:0.1.0"
    assert container(rendered.get("Deployment", "gateway"))["image"] == expected_gateway


def test_a_cold_gpu_node_fits_in_the_rollout_deadline(rendered: Rendered) -> None:
    triton = rendered.get("Deployment", "triton")
    assert triton["spec"]["progressDeadlineSeconds"] >= 1200, "node launch + image pull + model load"
    gateway_budget = rendered.get("PodDisruptionBudget", "gateway")
    assert gateway_budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow", "a drain with Triton down"


def test_rolling_updates_never_drop_below_the_ready_count(rendered: Rendered) -> None:
    for deployment in rendered.of_kind("Deployment"):
        strategy = deployment["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate"
        assert strategy["rollingUpdate"]["maxUnavailable"] == 0, deployment["metadata"]["name"]
        # An autoscaler owns the count: a replicas field would reset it on every apply.
        assert "replicas" not in deployment["spec"], deployment["metadata"]["name"]


def test_pod_disruption_budgets_cover_both_deployments(rendered: Rendered) -> None:
    budgets = rendered.of_kind("PodDisruptionBudget")
    for name in ("triton", "gateway"):
        labels = rendered.get("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets if selects(b["spec"]["selector"], labels)]
        assert [b["metadata"]["name"] for b in covering] == [name]
    assert rendered.get("PodDisruptionBudget", "gateway")["spec"]["minAvailable"] == 1
    assert rendered.get("PodDisruptionBudget", "triton")["spec"]["maxUnavailable"] == 1


def test_gateway_scales_on_cpu(rendered: Rendered) -> None:
    hpa = rendered.get("HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert hpa["spec"]["minReplicas"] >= 2, "one gateway pod alone cannot honour the PDB"


def test_triton_scales_on_queue_time_per_request(rendered: Rendered) -> None:
    scaled_objects = rendered.of_kind("ScaledObject")
    triton_hpas = [h for h in rendered.of_kind("HorizontalPodAutoscaler") if h["metadata"]["name"] != "gateway"]
    # One source of bounds for both autoscalers: the overlay's ScaledObject (production 2-8, as documented).
    bounds = {"staging": (1, 2), "production": (2, 8)}[rendered.variant.overlay]
    if rendered.variant.triton_autoscaler == "keda":
        assert not triton_hpas, "KEDA creates the HPA; a second one would fight it"
        (scaled,) = scaled_objects
        assert scaled["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "triton",
        }
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "prometheus"
        assert trigger["metricType"] == "Value", "the query is already a per-request average"
        query = trigger["metadata"]["query"]
        assert re.search(rf"rate\({QUEUE_METRIC}\{{.*\}}\[\w+\]\)\)\s*/", query)
        assert f"rate({SUCCESS_METRIC}{{" in query.split("/", 1)[1]
        assert float(trigger["metadata"]["threshold"]) > 0
        assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == bounds
        # KEDA copies the ScaledObject's labels to its HPA; without the ApplySet's label the prune leaves it be.
        excluded = scaled["metadata"]["annotations"]["scaledobject.keda.sh/hpa-excluded-labels"]
        assert "applyset.kubernetes.io/part-of" in excluded.split(",")
    else:
        assert not scaled_objects
        (hpa,) = triton_hpas
        assert hpa["metadata"]["name"] != "triton", "KEDA's HPA is named triton; a prune of it must miss this one"
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == bounds
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "triton",
        }
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == "Pods"
        assert metric["pods"]["metric"]["name"] == f"{QUEUE_METRIC}_per_request"


def test_prometheus_adapter_rule_serves_the_hpa_metric() -> None:
    component = EKS_DIR / "components" / "triton-hpa-prometheus-adapter"
    values = yaml.safe_load((component / "prometheus-adapter-values.yaml").read_text())
    hpa = yaml.safe_load((component / "bounds" / "hpa.yaml").read_text())
    (rule,) = values["rules"]["custom"]
    assert rule["name"]["as"] == hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
    assert QUEUE_METRIC in rule["seriesQuery"]
    numerator, denominator = rule["metricsQuery"].split("/", 1)
    assert QUEUE_METRIC in numerator
    assert SUCCESS_METRIC in denominator
    assert rule["resources"]["overrides"] == {
        "namespace": {"resource": "namespace"},
        "pod": {"resource": "pod"},
    }


def test_only_gateway_and_prometheus_reach_triton(rendered: Rendered) -> None:
    policies = rendered.of_kind("NetworkPolicy")
    default_deny = rendered.get("NetworkPolicy", "default-deny-ingress")
    assert default_deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}

    triton_labels = rendered.get("Deployment", "triton")["spec"]["template"]["metadata"]["labels"]
    gateway_labels = rendered.get("Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    allowing = [p for p in policies if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], triton_labels)]
    assert [p["metadata"]["name"] for p in allowing] == ["triton"]
    rules = allowing[0]["spec"]["ingress"]
    by_ports = {tuple(sorted(p["port"] for p in rule["ports"])): rule["from"] for rule in rules}
    assert set(by_ports) == {(8000, 8001), (8002,)}
    (serving_peer,) = by_ports[(8000, 8001)]
    assert set(serving_peer) == {"podSelector"}, "same namespace only"
    assert selects(serving_peer["podSelector"], gateway_labels)
    (metrics_peer,) = by_ports[(8002,)]
    assert metrics_peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    assert metrics_peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}


def test_service_monitors_scrape_both_services(rendered: Rendered) -> None:
    monitors = {m["metadata"]["name"]: m for m in rendered.of_kind("ServiceMonitor")}
    assert set(monitors) == {"triton", "gateway"}
    expected_port = {"triton": "metrics", "gateway": "http"}
    for name, monitor in monitors.items():
        service = rendered.get("Service", name)
        assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] == expected_port[name]
        assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
        assert endpoint["path"] == "/metrics"


def test_promql_namespace_matchers_match_the_namespace(rendered: Rendered) -> None:
    queries = [r["expr"] for o in rendered.of_kind("PrometheusRule") for g in o["spec"]["groups"] for r in g["rules"]]
    queries += [t["metadata"]["query"] for o in rendered.of_kind("ScaledObject") for t in o["spec"]["triggers"]]
    assert queries
    for query in queries:
        matchers = re.findall(r'namespace="([^"]*)"', query)
        assert matchers, f"query without a namespace matcher: {query}"
        assert set(matchers) == {NAMESPACE}, query


def test_alerts_cover_gateway_errors_and_latency(rendered: Rendered) -> None:
    (rule_object,) = rendered.of_kind("PrometheusRule")
    alerts = {r["alert"]: r for g in rule_object["spec"]["groups"] for r in g["rules"]}
    assert {"SentimentGatewayHighErrorRate", "SentimentGatewayHighLatencyP95"} <= set(alerts)
    assert 'status=~"5.."' in alerts["SentimentGatewayHighErrorRate"]["expr"]
    assert "histogram_quantile(0.95" in alerts["SentimentGatewayHighLatencyP95"]["expr"]
    assert "gateway_drift_psi" in alerts["SentimentTrafficDrift"]["expr"]  # named in gateway/metrics.py
    for alert in alerts.values():
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"]


def test_triton_reads_the_release_model_from_s3(rendered: Rendered) -> None:
    config = rendered.configmap("triton-config")
    triton = rendered.get("Deployment", "triton")
    main = container(triton)
    assert "--model-repository=$(MODEL_REPOSITORY)" in main["args"]
    env = {e["name"]: e for e in main.get("env", [])}
    for name in ("MODEL_REPOSITORY", "AWS_DEFAULT_REGION"):
        assert env[name]["valueFrom"]["configMapKeyRef"]["name"] == config["metadata"]["name"]
    account = rendered.get("ServiceAccount", "triton")
    assert pod_spec(triton)["serviceAccountName"] == "triton"
    assert config["data"]["MODEL_REPOSITORY"].startswith("s3://")
    if rendered.variant.via_deploy_script:
        # One prefix per overlay and release: rolling back the Deployment rolls back the model too, and a
        # teardown of one overlay never reaches the other's.
        expected = f"{MODEL_S3_URI}/{rendered.variant.overlay}/{IMAGE_TAG}"
        assert config["data"]["MODEL_REPOSITORY"] == expected
        assert config["data"]["AWS_DEFAULT_REGION"] == "eu-west-1"
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == TRITON_S3_ROLE_ARN


def test_grafana_dashboard_has_the_key_panels(rendered: Rendered) -> None:
    configmap = rendered.get("ConfigMap", "sentiment-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = configmap["data"].values()
    dashboard = json.loads(text)
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for needle in (
        "gateway_request_duration_seconds_count",  # RPS
        "histogram_quantile(0.95",  # p95
        QUEUE_METRIC,  # queue time
        "nv_inference_exec_count",  # batch size = inferences / executions
        "nv_gpu_utilization",  # GPU utilisation
    ):
        assert needle in exprs, needle
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
