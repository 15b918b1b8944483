"""deploy.sh: the dry run prints the release's commands and touches nothing; bad settings stop it early; the
release tag names the model; a real run (against fake aws, docker and kubectl) names the step that failed, refuses
an unpinned Triton image before it changes anything, and tears down only its own overlay's objects."""

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
    DEPLOY_SCRIPT,
    IMAGE_TAG,
    MODEL_S3_URI,
    REGISTRY,
    REPO_ROOT,
    TLS_CERT_ARN,
    VARIANTS,
    Rendered,
    Rules,
    cluster_rules,
    fake_model_repository,
    release,
    run_deploy_script,
)

pytestmark = pytest.mark.fast

DRY_RUNS = tuple(v.name for v in VARIANTS if v.via_deploy_script)
# What the script needs besides kubectl and Python (both passed by absolute path).
BASIC_TOOLS = ("bash", "git", "mktemp", "mkdir", "rm", "sed", "dirname", "env", "cat", "tr")
GATEWAY_DIGEST = "sha256:" + "a" * 64


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
    overlay = dry_run.variant.overlay
    commands = would_run(dry_run.output)
    expected_in_order = [
        "aws sts get-caller-identity",
        "deploy/eks/preflight.py",
        "docker buildx build --builder sentiment-release --platform linux/amd64 --provenance=mode=max --sbom=true "
        "--push -f deploy/eks/docker/gateway.Dockerfile",
        # No Triton image is built: the stock NGC image reads the model from its release's own S3 prefix.
        f"aws s3 sync model_repository/sentiment {MODEL_S3_URI}/{overlay}/{IMAGE_TAG}/sentiment",
        "apply --server-side --field-manager=sentiment-deploy -f",
        "apply --server-side --field-manager=sentiment-deploy --force-conflicts --namespace sentiment --prune "
        "--applyset=sentiment-release -f",
        "rollout status deployment/triton --timeout=20m",
        "rollout status deployment/gateway --timeout=20m",
    ]
    positions = [first_index(commands, needle) for needle in expected_in_order]
    assert positions == sorted(positions), "steps out of order"
    assert f"-t {REGISTRY}/sentiment-gateway:{IMAGE_TAG} ." in commands[positions[2]]
    assert "triton.Dockerfile" not in dry_run.output
    # The ApplySet prunes what a switched option left behind: nothing is deleted by name first.
    assert not [c for c in commands if " delete " in c]
    steps = [line for line in dry_run.output.splitlines() if line.startswith("==> ")]
    assert len(steps) >= 8


def test_dry_run_generates_the_redis_password_only_for_the_in_cluster_redis(dry_run: Rendered) -> None:
    commands = would_run(dry_run.output)
    created = [c for c in commands if "create secret generic redis-auth --from-file=password=" in c]
    in_cluster = dry_run.variant.overlay == "production" and not dry_run.variant.redis_url
    assert len(created) == int(in_cluster)
    if created:
        assert first_index(commands, "-f") < commands.index(created[0]) < first_index(commands, "--applyset")


def test_dry_run_warns_of_every_image_a_real_run_would_refuse(dry_run: Rendered) -> None:
    (warning,) = [line for line in dry_run.output.splitlines() if "not pinned by digest" in line]
    unpinned = warning.split("refuses: ", 1)[1].split(", ")
    expected = {"nvcr.io/nvidia/tritonserver:26.08-py3", f"{REGISTRY}/sentiment-gateway:{IMAGE_TAG}"}
    if dry_run.variant.overlay == "production" and not dry_run.variant.redis_url:
        expected.add("redis:7.4.2-alpine")
    assert set(unpinned) == expected


def test_dry_run_validates_what_it_renders(dry_run: Rendered) -> None:
    assert "0 errors (Kubernetes 1.35 schema" in dry_run.output


def test_dry_run_needs_no_aws_or_docker_at_all(tmp_path: Path) -> None:
    """With neither tool anywhere on PATH (not even the fakes), the dry run still succeeds."""
    path = path_without_aws_or_docker(tmp_path / "bin")
    result, _ = run_deploy_script({"DRY_RUN": "1", "PATH": path}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dry run complete" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"OVERLAY": "qa"}, "OVERLAY"),
        ({"EXPOSURE": "nodeport"}, "EXPOSURE"),
        ({"IMAGE_TAG": "latest"}, "IMAGE_TAG"),
        ({"IMAGE_TAG": "bad tag!"}, "IMAGE_TAG"),
        ({"MODEL_S3_URI": "https://bucket"}, "MODEL_S3_URI"),
        ({"TLS_CERT_ARN": "arn:aws:iam::210987654321:role/x"}, "TLS_CERT_ARN"),
        ({"API_KEY_HASHES": "my-secret-key"}, "API_KEY_HASHES"),
        ({"REDIS_URL": "redis://cache:6379"}, "REDIS_URL"),  # ElastiCache: TLS (rediss) and AUTH, always
        ({"SOURCE_RANGES": "0.0.0.0"}, "SOURCE_RANGES"),
        ({"INSECURE": "yes"}, "INSECURE"),
        ({"GATEWAY_IMAGE": f"{REGISTRY}/sentiment-gateway:{IMAGE_TAG}"}, "GATEWAY_IMAGE"),  # a digest, not a tag
    ],
)
def test_bad_settings_stop_before_anything_runs(tmp_path: Path, overrides: dict[str, str], setting: str) -> None:
    result, calls = run_deploy_script({"DRY_RUN": "1", **overrides}, tmp_path)
    assert result.returncode != 0
    assert "ERROR [Check settings]" in result.stderr
    assert f"release.py settings: {setting} must match " in result.stderr
    assert calls == []


def test_a_real_run_needs_its_region_and_bucket(tmp_path: Path) -> None:
    result, calls = run_deploy_script({"DRY_RUN": "0", "MODEL_S3_URI": ""}, tmp_path)
    assert result.returncode == 1
    assert "MODEL_S3_URI is not set" in result.stderr
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
    assert "ERROR [Check settings]" in result.stderr
    assert "production needs TLS and API keys; missing: " + ", ".join(missing) in result.stderr
    assert "INSECURE=1" in result.stderr, "the way out is named"
    assert calls == []


def test_the_tag_needs_none_of_the_deploy_settings(tmp_path: Path) -> None:
    """The workflow's build job names its release before TLS, keys or the bucket exist (issue 18, blocker 2)."""
    repository = fake_model_repository(tmp_path / "models")
    # DRY_RUN=1 only lets the tag name this shared work tree's changes (-dirty); no other setting is read.
    env = {"OVERLAY": "production", "DRY_RUN": "1", "IMAGE_TAG": "", "MODEL_S3_URI": "", "AWS_REGION": ""}
    result, calls = run_deploy_script({**env, "MODEL_REPOSITORY": str(repository)}, tmp_path, command="tag")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"git-[0-9a-f]{12}(-dirty)?-model-[0-9a-f]{12}", result.stdout.strip()), result.stdout
    assert calls == []


def test_production_deploys_without_them_only_when_told_insecure(tmp_path: Path, validator) -> None:
    render = tmp_path / "render"
    result, _ = run_deploy_script(
        {"DRY_RUN": "1", "OVERLAY": "production", "INSECURE": "1", "RENDER_DIR": str(render)}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING: INSECURE=1: production deploys without TLS or API keys" in result.stdout
    objects = validator.load_documents((render / "manifests.yaml").read_text())
    (gateway,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway"]
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GATEWAY_API_KEY_HASHES"]["valueFrom"]["secretKeyRef"]["optional"] is True, "no Secret to wait for"
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


def test_the_release_prefix_follows_the_model_and_the_overlay(tmp_path: Path) -> None:
    repository = fake_model_repository(tmp_path / "models")
    first = release_tag(tmp_path, repository)
    (repository / "sentiment" / "1" / "model.onnx").write_bytes(b"re-exported weights")
    second = release_tag(tmp_path, repository)
    assert first != second
    result, _ = run_deploy_script(
        {"DRY_RUN": "1", "IMAGE_TAG": "", "MODEL_REPOSITORY": str(repository), "OVERLAY": "staging"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert f"aws s3 sync {repository}/sentiment {MODEL_S3_URI}/staging/{second}/sentiment" in result.stdout
    assert f"sentiment-gateway:{second} ." in result.stdout


def release_rules(**answers: str) -> Rules:
    """An account and a cluster where everything works (preflight passes); the gateway's push reports a digest."""
    rules = cluster_rules()
    rules["aws"] += [
        ("sts get-caller-identity*", 0, "210987654321"),
        ("ecr describe-images * --image-ids imageTag=git-* *", 0, GATEWAY_DIGEST),
        *[(pattern, 0, output) for pattern, output in answers.items()],
    ]
    rules["docker"] = [("buildx create *", 0, ""), ("buildx build *", 0, "")]
    return rules


def real_run(tmp_path: Path, rules: Rules, **overrides: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """A real run of the release that names the fake model (check-model passes)."""
    repository = fake_model_repository(tmp_path / "models")
    tag = f"git-{'0' * 12}-model-{release.model_digest(repository)}"
    env = {"DRY_RUN": "0", "EKS_CLUSTER": "prod", "MODEL_REPOSITORY": str(repository), "IMAGE_TAG": tag}
    return run_deploy_script({**env, **overrides}, tmp_path, rules=rules, fake_kubectl=True)


def test_a_real_run_refuses_a_model_its_tag_does_not_name(tmp_path: Path) -> None:
    result, calls = real_run(tmp_path, release_rules(), IMAGE_TAG="git-000000000000-model-000000000000")
    assert result.returncode == 1
    assert "ERROR [Name the release]" in result.stderr
    assert "but the release git-000000000000-model-000000000000 names 000000000000" in result.stderr
    assert calls == []


def test_a_failure_inside_a_step_names_the_step(tmp_path: Path) -> None:
    """set -E: a command failing inside a function (here: creating the image builder) is reported with its step."""
    rules = release_rules()
    rules["docker"] = []
    result, _ = real_run(tmp_path, rules)
    assert result.returncode == 97
    assert "+ docker buildx create" in result.stdout
    assert "ERROR [Gateway image]: command failed with exit status 97" in result.stderr


def test_a_cluster_without_what_the_release_needs_stops_before_building(tmp_path: Path) -> None:
    rules = release_rules()
    rules["kubectl"] = [r for r in rules["kubectl"] if "customresourcedefinitions" not in r[0]]
    rules["kubectl"].insert(0, ("*get customresourcedefinitions*", 0, json.dumps({"items": []})))
    result, calls = real_run(tmp_path, rules)
    assert result.returncode == 1
    assert "missing: Prometheus Operator" in result.stdout
    assert "ERROR [Check AWS credentials and the cluster]: the cluster is missing what the release needs" in (
        result.stderr
    )
    assert not [c for c in calls if "/docker " in c]


@pytest.mark.parametrize("promoted", [False, True], ids=["built-here", "promoted-digest"])
def test_a_real_run_pins_the_gateway_by_digest_and_refuses_an_unpinned_triton(
    tmp_path: Path, validator, promoted: bool
) -> None:
    """What the workflow's rollout job does (GATEWAY_IMAGE: the digest the build job pushed and tested) and what a
    local make deploy does (build, push, read back the digest). Either way the release names the gateway by its
    digest; Triton's stock image is still pinned by tag only, so the run stops before it touches S3 or the cluster."""
    render = tmp_path / "render"
    gateway = f"{REGISTRY}/sentiment-gateway@{GATEWAY_DIGEST}"
    result, calls = real_run(
        tmp_path, release_rules(), RENDER_DIR=str(render), **({"GATEWAY_IMAGE": gateway} if promoted else {})
    )
    assert result.returncode == 1
    assert "images not pinned by digest: nvcr.io/nvidia/tritonserver:26.08-py3" in result.stderr
    assert "sentiment-gateway" not in result.stderr.split("not pinned by digest", 1)[1]
    objects = validator.load_documents((render / "manifests.yaml").read_text())
    (deployment,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == gateway
    docker = [c for c in calls if "/docker " in c]
    assert bool(docker) is not promoted, "a promoted release builds nothing"
    assert not [c for c in calls if " s3 " in c or " apply " in c or " rollout " in c], calls


def test_teardown_deletes_only_this_overlays_objects_and_releases(tmp_path: Path) -> None:
    env = {"DRY_RUN": "1", "EKS_CLUSTER": "prod", "OVERLAY": "production", "DELETE_RELEASES": "1"}
    result, calls = run_deploy_script(env, tmp_path, command="teardown")
    assert result.returncode == 0, result.stderr
    assert calls == []
    commands = [shlex.split(command) for command in would_run(result.stdout)]
    assert commands[0][1:4] == ["delete", "namespace", "sentiment"]
    assert commands[1][:4] == ["aws", "s3", "rm", f"{MODEL_S3_URI}/production/"]
    assert len(commands) == 2, "no ECR repository, no other overlay's prefix"


def test_teardown_names_its_cluster(tmp_path: Path) -> None:
    result, calls = run_deploy_script({"DRY_RUN": "1"}, tmp_path, command="teardown")
    assert result.returncode == 1
    assert "EKS_CLUSTER is not set: teardown names the cluster it empties" in result.stderr
    assert calls == []


def test_real_run_stops_with_a_clear_error_when_aws_is_missing(tmp_path: Path) -> None:
    result, _ = real_run(tmp_path, {}, PATH=path_without_aws_or_docker(tmp_path / "bin"))
    assert result.returncode != 0
    assert "the AWS CLI v2 is not on PATH" in result.stderr
    assert "would run" not in result.stdout
    assert not any(line.startswith("    + ") for line in result.stdout.splitlines()), "ran a command"


def test_a_missing_tool_names_a_real_make_target(tmp_path: Path) -> None:
    result, _ = run_deploy_script({"DRY_RUN": "1", "PYTHON": str(tmp_path / "no-python")}, tmp_path)
    assert result.returncode != 0
    assert "make deploy creates .venv-deploy" in result.stderr
    assert "make install" not in DEPLOY_SCRIPT.read_text()


def test_script_is_strict_bash() -> None:
    text = DEPLOY_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    # -E: the ERR trap reaches functions, so every failure names its step.
    assert "\nset -Eeuo pipefail\n" in text


def test_script_passes_shellcheck() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "shellcheck"), "--severity=style", str(DEPLOY_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
