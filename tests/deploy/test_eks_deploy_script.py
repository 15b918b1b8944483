"""deploy.sh: the dry run prints the release's commands and touches nothing; bad settings stop it early."""

import shutil
from pathlib import Path

import pytest
from eks_support import (
    AWS_REGION,
    DEPLOY_SCRIPT,
    IMAGE_TAG,
    MODEL_S3_URI,
    REGISTRY,
    Rendered,
    run_deploy_script,
)

DRY_RUNS = ("deploy-staging", "deploy-production-s3-alb-adapter")
# What the script needs besides kubectl and Python (both passed by absolute path).
BASIC_TOOLS = ("bash", "git", "mktemp", "mkdir", "grep", "sed", "head", "dirname", "env", "cat")


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


def test_dry_run_calls_no_external_tool(dry_run: Rendered) -> None:
    assert dry_run.external_calls == [], "a dry run must not call aws or docker"
    assert "Dry run complete" in dry_run.output


def test_dry_run_prints_every_release_step_in_order(dry_run: Rendered) -> None:
    commands = would_run(dry_run.output)
    gateway_image = f"{REGISTRY}/sentiment-gateway:{IMAGE_TAG}"
    expected_in_order = [
        "aws sts get-caller-identity",
        f"aws ecr get-login-password --region {AWS_REGION} | docker login --username AWS --password-stdin {REGISTRY}",
        "docker build --platform linux/amd64 -f deploy/eks/docker/gateway.Dockerfile",
        f"docker push {gateway_image}",
        "apply --server-side",
        "rollout status deployment/triton",
        "rollout status deployment/gateway",
    ]
    positions = []
    for needle in expected_in_order:
        matches = [i for i, command in enumerate(commands) if needle in command]
        assert matches, f"dry run never prints {needle!r}:\n" + "\n".join(commands)
        positions.append(matches[0])
    assert positions == sorted(positions), "steps out of order"
    steps = [line for line in dry_run.output.splitlines() if line.startswith("==> ")]
    assert len(steps) >= 6


def test_dry_run_builds_triton_only_in_image_mode(dry_run: Rendered) -> None:
    commands = "\n".join(would_run(dry_run.output))
    triton_build = "-f deploy/eks/docker/triton.Dockerfile"
    s3_sync = f"aws s3 sync model_repository/sentiment {MODEL_S3_URI}/{IMAGE_TAG}/sentiment"
    if dry_run.variant.model_source == "image":
        assert triton_build in commands
        assert f"docker push {REGISTRY}/sentiment-triton:{IMAGE_TAG}" in commands
        assert "aws s3" not in commands
    else:
        assert triton_build not in commands
        assert s3_sync in commands


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
    ],
)
def test_bad_settings_stop_before_anything_runs(tmp_path: Path, overrides: dict[str, str], message: str) -> None:
    result, calls = run_deploy_script({"DRY_RUN": "1", **overrides}, tmp_path)
    assert result.returncode != 0
    assert "ERROR [Check settings]" in result.stderr
    assert message in result.stderr
    assert calls == []


def test_real_run_stops_with_a_clear_error_when_aws_is_missing(tmp_path: Path) -> None:
    path = path_without_aws_or_docker(tmp_path / "bin")
    result, _ = run_deploy_script({"DRY_RUN": "0", "PATH": path}, tmp_path)
    assert result.returncode != 0
    assert "ERROR [Check local tools]: aws ('aws') is not on PATH" in result.stderr
    assert "would run" not in result.stdout
    assert not any(line.startswith("    + ") for line in result.stdout.splitlines()), "ran a command"


def test_script_is_strict_bash() -> None:
    text = DEPLOY_SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
