"""release_summary.py: what `make deploy DRY_RUN=1` says about each release, and the rollouts it refuses."""

import copy
import importlib.util
import sys
from types import ModuleType

import pytest
from eks_support import EKS_DIR, SOURCE_RANGES, TLS_CERT_ARN, VPC_CIDR, Rendered

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def summary() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_summary", EKS_DIR / "release_summary.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_variant_is_safe_to_roll_out_and_says_what_it_does(rendered: Rendered, summary: ModuleType) -> None:
    lines, problems = summary.summarize(rendered.objects)
    assert problems == []
    text = "\n".join(lines)
    variant = rendered.variant
    assert "rollouts: readiness gates on; gateway preStop 30 s >= deregistration delay 30 s" in text
    assert "karpenter.sh/do-not-disrupt on; Triton started through the NGC entrypoint (args)" in text
    if variant.secure:
        assert TLS_CERT_ARN in text
        assert f"source ranges: {SOURCE_RANGES}" in text
        assert "API keys: required (Secret gateway-api-keys-" in text
    trusted = VPC_CIDR if variant.exposure == "alb" else "127.0.0.1"
    assert f"X-Forwarded-For believed only from {trusted}" in text
    if variant.overlay == "staging":
        assert "counted by each gateway worker alone" in text
    elif variant.redis_url:
        assert "shared through the external Redis in REDIS_URL (Secret gateway-redis-" in text
    else:
        assert "shared through the in-cluster Redis" in text
        assert "with the password in Secret redis-auth" in text
    if variant.exposure == "alb":
        assert "HTTP 80 redirects to it" in text
    elif not variant.secure:
        assert "(no TLS)" in text


def test_a_rollout_that_would_drop_requests_is_refused(rendered_variants: dict[str, Rendered], summary) -> None:
    objects = copy.deepcopy(rendered_variants["deploy-production-nlb"].objects)
    for obj in objects:
        if obj["kind"] == "Namespace":
            del obj["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"]
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "gateway":
            obj["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] = 5
            obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 12
    _, problems = summary.summarize(objects)
    assert len(problems) == 3, problems
    assert "lacks elbv2.k8s.aws/pod-readiness-gate-inject" in problems[0]
    assert "preStop 5 s is shorter than the deregistration delay 30 s" in problems[1]
    assert "terminationGracePeriodSeconds 12" in problems[2]
