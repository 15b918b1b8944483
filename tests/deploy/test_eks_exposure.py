"""Behind the load balancer, on every deploy variant: callers told apart (client address, keys, one shared quota),
TLS and source ranges where asked for, and rollouts that never drop a request (readiness gates, preStop,
deregistration delay and grace period agreeing)."""

import base64

import pytest
from eks_support import API_KEY_HASHES, SOURCE_RANGES, TLS_CERT_ARN, VPC_CIDR, Rendered

pytestmark = pytest.mark.fast

NLB = "service.beta.kubernetes.io/aws-load-balancer-"
ALB = "alb.ingress.kubernetes.io/"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# uvicorn's graceful shutdown in gateway/__main__.py: requests in flight get this long after SIGTERM.
GATEWAY_GRACEFUL_SHUTDOWN_S = 10


def gateway_container(rendered: Rendered) -> dict:
    (main,) = rendered.get("Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
    return main


def target_group_attributes(rendered: Rendered) -> dict[str, str]:
    if rendered.variant.exposure == "nlb":
        raw = rendered.get("Service", "gateway")["metadata"]["annotations"][f"{NLB}target-group-attributes"]
    else:
        raw = rendered.get("Ingress", "gateway")["metadata"]["annotations"][f"{ALB}target-group-attributes"]
    return dict(pair.strip().split("=", 1) for pair in raw.split(","))


def test_new_pods_count_as_ready_only_once_the_load_balancer_does(rendered: Rendered) -> None:
    labels = rendered.get("Namespace", "sentiment")["metadata"]["labels"]
    assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_a_stopping_gateway_outlives_its_deregistration(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    pre_stop = gateway_container(rendered)["lifecycle"]["preStop"]["sleep"]["seconds"]
    delay = int(target_group_attributes(rendered)["deregistration_delay.timeout_seconds"])
    assert pre_stop >= delay, "the balancer may send new requests until the target is deregistered"
    timeout = float(rendered.configmap("gateway-config")["data"]["GATEWAY_TRITON_TIMEOUT_S"])
    assert timeout <= GATEWAY_GRACEFUL_SHUTDOWN_S, "a request in flight finishes within the graceful shutdown"
    grace = gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > pre_stop + GATEWAY_GRACEFUL_SHUTDOWN_S, "the kubelet must not kill the pod mid-drain"


def test_the_gateway_sees_the_callers_address(rendered: Rendered) -> None:
    config = rendered.configmap("gateway-config")["data"]
    trusted = config["GATEWAY_FORWARDED_ALLOW_IPS"]
    assert "*" not in trusted, "trusting everyone lets any caller choose its address"
    # Only the ALB adds X-Forwarded-For; behind the NLB (client IP preservation) no proxy does.
    assert trusted == (VPC_CIDR if rendered.variant.exposure == "alb" else "127.0.0.1")
    if rendered.variant.exposure == "nlb":
        # NLB IP targets see the NLB's address unless client IP preservation is on.
        assert target_group_attributes(rendered)["preserve_client_ip.enabled"] == "true"


def test_tls_and_source_ranges_where_asked_for(rendered: Rendered) -> None:
    variant = rendered.variant
    if variant.exposure == "nlb":
        service = rendered.get("Service", "gateway")
        annotations = service["metadata"]["annotations"]
        (port,) = service["spec"]["ports"]
        if variant.secure:
            assert annotations[f"{NLB}ssl-cert"] == TLS_CERT_ARN
            assert annotations[f"{NLB}ssl-ports"] == "443"
            assert annotations[f"{NLB}ssl-negotiation-policy"] == TLS_POLICY
            assert port["port"] == 443, "TLS only: no plain-HTTP listener"
            assert service["spec"]["loadBalancerSourceRanges"] == SOURCE_RANGES.split(",")
        else:
            assert f"{NLB}ssl-cert" not in annotations
            assert port["port"] == 80
            assert "loadBalancerSourceRanges" not in service["spec"]
    else:
        annotations = rendered.get("Ingress", "gateway")["metadata"]["annotations"]
        assert variant.secure, "every ALB variant here is a production one"
        assert annotations[f"{ALB}certificate-arn"] == TLS_CERT_ARN
        assert annotations[f"{ALB}listen-ports"] == '[{"HTTP": 80}, {"HTTPS": 443}]'
        assert annotations[f"{ALB}ssl-redirect"] == "443", "HTTP only redirects"
        assert annotations[f"{ALB}ssl-policy"] == TLS_POLICY
        assert annotations[f"{ALB}inbound-cidrs"] == SOURCE_RANGES


def gateway_env(rendered: Rendered) -> dict[str, dict]:
    return {e["name"]: e for e in gateway_container(rendered)["env"]}


def secret_value(rendered: Rendered, reference: dict) -> str:
    secret = rendered.get("Secret", reference["name"])
    return base64.b64decode(secret["data"][reference["key"]]).decode()


def test_api_keys_come_from_a_secret_and_production_requires_them(rendered: Rendered) -> None:
    reference = gateway_env(rendered)["GATEWAY_API_KEY_HASHES"]["valueFrom"]["secretKeyRef"]
    variant = rendered.variant
    required = variant.overlay == "production" and (variant.secure or not variant.via_deploy_script)
    assert reference["optional"] is (not required)
    secrets = [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].startswith("gateway-api-keys")]
    if variant.secure:
        (secret,) = secrets
        # Generated with a content hash in its name: rotating the keys rolls the gateway pods.
        assert secret["metadata"]["name"].startswith("gateway-api-keys-")
        assert reference["name"] == secret["metadata"]["name"]
        assert secret_value(rendered, reference) == API_KEY_HASHES
    else:
        assert not secrets
        assert reference["name"] == "gateway-api-keys"


def test_quotas_are_shared_through_redis_in_production(rendered: Rendered) -> None:
    variant = rendered.variant
    env = gateway_env(rendered)
    assert "REDIS_URL" not in rendered.configmap("gateway-config")["data"], "a URL with a password: env only"
    redis_objects = [o for o in rendered.objects if o["metadata"]["name"] == "redis"]
    if variant.overlay == "staging":
        assert "REDIS_URL" not in env
        assert not redis_objects
    elif variant.redis_url:
        # ElastiCache replaces the in-cluster Redis; its URL carries the AUTH token, so it lives in a Secret.
        assert set(env["REDIS_URL"]) == {"name", "valueFrom"}
        assert secret_value(rendered, env["REDIS_URL"]["valueFrom"]["secretKeyRef"]) == variant.redis_url
        assert "REDIS_PASSWORD" not in env
        assert not redis_objects
    else:
        # The in-cluster Redis needs a password, from the Secret deploy.sh generates once (never in a manifest).
        password = {"secretKeyRef": {"name": "redis-auth", "key": "password"}}
        assert env["REDIS_PASSWORD"]["valueFrom"] == password
        assert env["REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@redis:6379/0"
        assert list(env).index("REDIS_PASSWORD") < list(env).index("REDIS_URL"), "$(VAR) sees only earlier ones"
        deployment = rendered.get("Deployment", "redis")
        (server,) = deployment["spec"]["template"]["spec"]["containers"]
        assert {e["name"]: e["valueFrom"] for e in server["env"]} == {"REDISCLI_AUTH": password}
        requirepass = server["args"].index("--requirepass")
        assert server["args"][requirepass + 1] == "$(REDISCLI_AUTH)"
        assert "--protected-mode" not in server["args"]
        assert not [s for s in rendered.of_kind("Secret") if s["metadata"]["name"] == "redis-auth"]
        service = rendered.get("Service", "redis")
        (port,) = service["spec"]["ports"]
        assert port["port"] == 6379
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        policy = rendered.get("NetworkPolicy", "redis")
        assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "redis"}
        (rule,) = policy["spec"]["ingress"]
        assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]
        assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
