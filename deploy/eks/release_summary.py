"""Say what a rendered release does for its callers and its rollouts, and refuse a rollout that would drop requests.

deploy.sh runs it on the manifests it is about to apply, so `make deploy DRY_RUN=1` shows, from the objects
themselves: TLS and source ranges, API keys, where quotas are counted, how the caller's address reaches the
gateway, the drain timings, GPU placement and the images.

Usage: python deploy/eks/release_summary.py MANIFESTS
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

NLB = "service.beta.kubernetes.io/aws-load-balancer-"
ALB = "alb.ingress.kubernetes.io/"
READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
# uvicorn's graceful shutdown in gateway/__main__.py: requests in flight get this long after SIGTERM.
GATEWAY_GRACEFUL_SHUTDOWN_S = 10


class Release:
    def __init__(self, objects: list[dict]) -> None:
        self.objects = objects

    def find(self, kind: str, name: str) -> dict | None:
        return next((o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name), None)

    def configmap(self, prefix: str) -> dict:
        return next(
            o["data"] for o in self.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(prefix)
        )

    def container(self, deployment: str) -> dict:
        return self.find("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def target_group_attributes(annotations: dict, key: str) -> dict[str, str]:
    raw = annotations.get(key, "")
    return dict(pair.strip().split("=", 1) for pair in raw.split(",") if "=" in pair)


def exposure(release: Release) -> tuple[list[str], dict[str, str]]:
    """Lines about the load balancer, and its target group attributes."""
    ingress = release.find("Ingress", "gateway")
    if ingress is not None:
        annotations = ingress["metadata"]["annotations"]
        cert = annotations.get(f"{ALB}certificate-arn")
        tls = f"HTTPS on 443 with {cert}, HTTP 80 redirects to it" if cert else "plain HTTP on 80 (no TLS)"
        ranges = annotations.get(f"{ALB}inbound-cidrs", "anyone")
        lines = [f"exposure: ALB ({annotations[f'{ALB}scheme']}), {tls}; source ranges: {ranges}"]
        return lines, target_group_attributes(annotations, f"{ALB}target-group-attributes")
    service = release.find("Service", "gateway")
    annotations = service["metadata"]["annotations"]
    cert = annotations.get(f"{NLB}ssl-cert")
    (port,) = service["spec"]["ports"]
    tls = f"TLS on {port['port']} with {cert}" if cert else f"plain TCP/HTTP on {port['port']} (no TLS)"
    ranges = ",".join(service["spec"].get("loadBalancerSourceRanges", [])) or "anyone"
    lines = [f"exposure: NLB ({annotations[f'{NLB}scheme']}), {tls}; source ranges: {ranges}"]
    return lines, target_group_attributes(annotations, f"{NLB}target-group-attributes")


def callers(release: Release, attributes: dict[str, str]) -> list[str]:
    config = release.configmap("gateway-config")
    env = {e["name"]: e for e in release.container("gateway").get("env", [])}
    keys = env["GATEWAY_API_KEY_HASHES"]
    reference = keys["valueFrom"]["secretKeyRef"]
    key_line = (
        f"API keys: optional (Secret {reference['name']}, if present)"
        if reference.get("optional")
        else f"API keys: required (Secret {reference['name']})"
    )
    redis_url = env.get("REDIS_URL")
    per = "per API key (per caller address without keys)"
    if not redis_url:
        quota = f"quota: {per}, counted by each gateway worker alone (no REDIS_URL)"
    elif release.find("Deployment", "redis") is not None:
        quota = (
            f"quota: {per}, shared through the in-cluster Redis ({redis_url['value']}; only gateways may connect,"
            " with the password in Secret redis-auth)"
        )
    else:
        secret = redis_url["valueFrom"]["secretKeyRef"]["name"]
        quota = f"quota: {per}, shared through the external Redis in REDIS_URL (Secret {secret})"
    if release.find("Ingress", "gateway") is not None:
        address = "the ALB's X-Forwarded-For"
    elif attributes.get("preserve_client_ip.enabled") == "true":
        address = "NLB client IP preservation"
    else:
        address = "the load balancer's own address (client IP preservation is off)"
    trusted = config.get("GATEWAY_FORWARDED_ALLOW_IPS", "127.0.0.1")
    return [key_line, quota, f"caller address: {address}; X-Forwarded-For believed only from {trusted}"]


def rollouts(release: Release, attributes: dict[str, str]) -> tuple[list[str], list[str]]:
    """Lines, and problems that would drop requests during a rollout."""
    problems = []
    namespace = release.find("Namespace", "sentiment")
    if (namespace or {}).get("metadata", {}).get("labels", {}).get(READINESS_GATE_LABEL) != "enabled":
        problems.append(f"the namespace lacks {READINESS_GATE_LABEL}: enabled (old pods would go before new targets)")
    gateway = release.find("Deployment", "gateway")["spec"]["template"]["spec"]
    pre_stop = gateway["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = gateway["terminationGracePeriodSeconds"]
    delay = int(attributes.get("deregistration_delay.timeout_seconds", 300))
    if pre_stop < delay:
        problems.append(f"gateway preStop {pre_stop} s is shorter than the deregistration delay {delay} s")
    if grace <= pre_stop + GATEWAY_GRACEFUL_SHUTDOWN_S:
        problems.append(
            f"terminationGracePeriodSeconds {grace} leaves no time after preStop {pre_stop} s and the "
            f"{GATEWAY_GRACEFUL_SHUTDOWN_S} s graceful shutdown"
        )
    line = (
        f"rollouts: readiness gates on; gateway preStop {pre_stop} s >= deregistration delay {delay} s; "
        f"grace {grace} s >= preStop + {GATEWAY_GRACEFUL_SHUTDOWN_S} s shutdown"
    )
    return [line], problems


def gpu(release: Release) -> list[str]:
    triton = release.find("Deployment", "triton")["spec"]["template"]
    terms = triton["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    types = [v for term in terms["nodeSelectorTerms"] for e in term["matchExpressions"] for v in e["values"]]
    disrupt = triton["metadata"].get("annotations", {}).get("karpenter.sh/do-not-disrupt") == "true"
    entry = "NGC entrypoint (args)" if "command" not in triton["spec"]["containers"][0] else "command (bypasses NGC)"
    return [
        f"GPU: any of {', '.join(types)}; karpenter.sh/do-not-disrupt {'on' if disrupt else 'off'}; "
        f"Triton started through the {entry}"
    ]


def images(release: Release) -> list[str]:
    return [
        f"image {o['metadata']['name']}: {o['spec']['template']['spec']['containers'][0]['image']}"
        for o in release.objects
        if o["kind"] == "Deployment"
    ]


def summarize(objects: list[dict]) -> tuple[list[str], list[str]]:
    release = Release(objects)
    lines, attributes = exposure(release)
    lines += callers(release, attributes)
    rollout_lines, problems = rollouts(release, attributes)
    return lines + rollout_lines + gpu(release) + images(release), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", type=Path)
    args = parser.parse_args(argv)
    objects = [doc for doc in yaml.safe_load_all(args.manifests.read_text()) if doc]
    lines, problems = summarize(objects)
    for line in lines:
        sys.stdout.write(line + "\n")
    for problem in problems:
        sys.stderr.write(f"UNSAFE {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
