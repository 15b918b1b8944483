"""Rollouts on EKS (issue 19): the state in the ConfigMap gateway-rollout that every gateway pod mounts, the verbs
deploy.sh runs against it (through a fake kubectl that answers the reads and records the writes), the Argo
Rollouts gate generated from the policy file, the champion/challenger alert and dashboard row."""

import json
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from eks_support import EKS_DIR, REPO_ROOT, Rendered, release, run_deploy_script

from contract.metadata import ServingMetadata
from rollout import argo
from rollout.policy import DEFAULT_POLICY, Policy

pytestmark = pytest.mark.fast

POLICY_FILE = tomllib.loads(DEFAULT_POLICY.read_text())
TEMPLATE = EKS_DIR / "base" / "rollout" / "analysistemplate.yaml"
STATE = '{"champion": "1", "challenger": null, "mode": "off", "percent": 0.0, "previous": null}'


def would_run(output: str) -> list[list[str]]:
    return [shlex.split(line.split("would run: ", 1)[1]) for line in output.splitlines() if "would run: " in line]


def repository_with_versions(root: Path, labels: dict[str, list[str]]) -> Path:
    """A model repository whose versions have real serving metadata (the verbs read it) and stand-in weights."""
    model = root / "sentiment"
    (model / "configs").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "sentiment"\n')
    for version, names in labels.items():
        version_dir = model / version
        (version_dir / "tokenizer").mkdir(parents=True)
        (version_dir / "model.onnx").write_bytes(f"weights {version}".encode())
        (version_dir / "tokenizer" / "tokenizer.json").write_text("{}")
        ServingMetadata(model_name="sentiment", source=f"checkpoint-{version}", max_length=512, labels=names).write(
            version_dir
        )
    return root


def test_the_committed_analysis_template_is_what_the_policy_generates() -> None:
    assert TEMPLATE.read_text() == argo.analysis_template_yaml(Policy.read(DEFAULT_POLICY)), (
        "regenerate: python -m rollout analysis-template > deploy/eks/base/rollout/analysistemplate.yaml"
    )


def test_the_analysis_templates_thresholds_are_the_policy_files() -> None:
    """Read from the two files themselves, not from the generator both come out of."""
    metrics = {m["name"]: m for m in yaml.safe_load(TEMPLATE.read_text())["spec"]["metrics"]}
    assert set(metrics) == {"label-agreement", "error-rate-increase", "p99-excess-seconds"}
    agreement = POLICY_FILE["agreement"]["min_label_agreement"]
    assert metrics["label-agreement"]["successCondition"].endswith(f"result[0] >= {agreement}")
    increase = POLICY_FILE["errors"]["max_error_rate_increase"]
    assert metrics["error-rate-increase"]["successCondition"].endswith(f"result[0] <= {increase}")
    p99_query = metrics["p99-excess-seconds"]["provider"]["prometheus"]["query"]
    assert (
        f"* {POLICY_FILE['latency']['max_p99_ratio']} + {POLICY_FILE['latency']['p99_slack_ms'] / 1000})" in p99_query
    )
    window = POLICY_FILE["prometheus"]["window"]
    for metric in metrics.values():
        query = metric["provider"]["prometheus"]["query"]
        # Too few samples: the query answers nothing, neither condition holds, the run is Inconclusive (hold).
        assert f">= {POLICY_FILE['sample']['min_compared_texts']})" in query
        assert f">= {POLICY_FILE['sample']['min_challenger_requests']})" in query
        assert f"[{window}]" in query
        assert "sum(" in query and 'namespace="sentiment"' in query, "summed over every gateway pod"
        assert metric["failureCondition"].startswith("len(result) > 0 && !(")


def test_the_alert_is_the_policys_agreement_floor_while_a_canary_takes_traffic(rendered: Rendered) -> None:
    (rule_object,) = rendered.of_kind("PrometheusRule")
    alerts = {r["alert"]: r for g in rule_object["spec"]["groups"] for r in g["rules"]}
    alert = alerts["SentimentChallengerDisagrees"]
    assert alert["expr"] == argo.disagreement_alert(Policy.read(DEFAULT_POLICY))
    assert f"< {POLICY_FILE['agreement']['min_label_agreement']})" in alert["expr"]
    assert 'gateway_rollout_info{namespace="sentiment",mode="canary"}' in alert["expr"]
    assert alert["labels"]["severity"] == "critical"


def test_every_gateway_pod_mounts_the_rollout_state_read_only(rendered: Rendered) -> None:
    gateway = rendered.get("Deployment", "gateway")
    spec = gateway["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "rollout"]
    assert volume["configMap"] == {"name": "gateway-rollout", "optional": False}
    (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "rollout"]
    assert mount["readOnly"] is True
    assert "subPath" not in mount, "a subPath mount never sees the ConfigMap change"
    state_file = rendered.configmap("gateway-config")["data"]["GATEWAY_ROLLOUT_FILE"]
    assert state_file == mount["mountPath"] + "/rollout.json"
    # Outside the ApplySet: no release applies (and so resets) or prunes it.
    assert not [o for o in rendered.of_kind("ConfigMap") if o["metadata"]["name"].startswith("gateway-rollout")]
    (template,) = rendered.of_kind("AnalysisTemplate")
    assert template["metadata"]["namespace"] == "sentiment"


def test_the_dashboard_has_a_champion_challenger_row(rendered: Rendered) -> None:
    (text,) = rendered.get("ConfigMap", "sentiment-grafana-dashboard")["data"].values()
    panels = json.loads(text)["panels"]
    (row,) = [p for p in panels if p["type"] == "row" and "Champion / challenger" in p["title"]]
    below = [p for p in panels if p["gridPos"]["y"] > row["gridPos"]["y"]]
    exprs = " ".join(t["expr"] for p in below for t in p["targets"])
    for metric in (
        "gateway_compared_agreements_total",
        "gateway_compared_score_delta_bucket",
        "gateway_compared_labels_total",
        "gateway_version_seconds_bucket",
        "gateway_version_requests_total",
        "gateway_shadow_shed_total",
        "gateway_rollout_percent",
    ):
        assert metric in exprs, metric


def test_a_release_creates_the_state_once_outside_the_applyset(tmp_path: Path) -> None:
    repository = repository_with_versions(
        tmp_path / "models", {"1": ["NEGATIVE", "POSITIVE"], "2": ["NEGATIVE", "POSITIVE"]}
    )
    result, calls = run_deploy_script({"DRY_RUN": "1", "MODEL_REPOSITORY": str(repository)}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert calls == []
    commands = would_run(result.stdout)
    create = next(i for i, c in enumerate(commands) if c[3:6] == ["create", "configmap", "gateway-rollout"])
    namespace = next(i for i, c in enumerate(commands) if "namespace.yaml" in c[-1])
    applyset = next(i for i, c in enumerate(commands) if "--applyset=sentiment-release" in c)
    assert namespace < create < applyset
    literal = commands[create][-1].removeprefix("--from-literal=rollout.json=")
    assert json.loads(literal)["champion"] == "2", "the highest version shipped"
    # Every exported version ships: its weights to S3, its metadata and tokenizer in the image.
    (sync,) = [c for c in commands if c[:3] == ["aws", "s3", "sync"]]
    assert sync[sync.index("--include", sync.index("labels.txt")) + 1] == "*/model.onnx*"
    shipped = {str(path) for path in release.model_files(repository)}
    assert {"1/model.onnx", "2/model.onnx", "2/serving_metadata.json", "2/tokenizer/tokenizer.json"} <= shipped


def run_verb(tmp_path: Path, verb: str, state: str = STATE, labels_of_2: list[str] | None = None, **env: str):
    repository = repository_with_versions(
        tmp_path / "models", {"1": ["NEGATIVE", "POSITIVE"], "2": labels_of_2 or ["NEGATIVE", "POSITIVE"]}
    )
    rules = {"kubectl": [("*get configmap gateway-rollout*", 0, state)]}
    return run_deploy_script(
        {"DRY_RUN": "1", "MODEL_REPOSITORY": str(repository), **env},
        tmp_path,
        rules=rules,
        command=verb,
        fake_kubectl=True,
    )


def patched_state(output: str) -> dict:
    (patch,) = [c for c in would_run(output) if c[3:5] == ["patch", "configmap"]]
    assert patch[4:8] == ["configmap", "gateway-rollout", "--type", "merge"]
    return json.loads(json.loads(patch[-1])["data"]["rollout.json"])


def test_shadow_and_canary_patch_the_configmap_with_the_new_state(tmp_path: Path) -> None:
    result, calls = run_verb(tmp_path, "canary", VERSION="2", PERCENT="20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert patched_state(result.stdout) == {
        "champion": "1",
        "challenger": "2",
        "mode": "canary",
        "percent": 20.0,
        "previous": None,
    }
    assert "canary: champion 1, challenger 2 (canary 20%) (was: champion 1, no challenger)" in result.stderr
    assert "sync period (1 min by default)" in result.stdout, "says how long the kubelet takes"
    assert [c for c in calls if "/kubectl " in c and "get configmap gateway-rollout" in c], "read the state"
    assert not [c for c in calls if " patch " in c], "a dry run writes nothing"


def test_promote_then_rollback_follow_the_contracts_transitions(tmp_path: Path) -> None:
    shadowing = '{"champion": "1", "challenger": "2", "mode": "shadow", "percent": 100, "previous": null}'
    result, _ = run_verb(tmp_path, "promote", state=shadowing)
    assert result.returncode == 0, result.stderr
    promoted = patched_state(result.stdout)
    assert promoted == {"champion": "2", "challenger": None, "mode": "off", "percent": 0.0, "previous": "1"}
    result, _ = run_verb(tmp_path / "again", "rollback", state=json.dumps(promoted))
    assert result.returncode == 0, result.stderr
    assert patched_state(result.stdout)["champion"] == "1"


@pytest.mark.parametrize(
    ("env", "labels_of_2", "message"),
    [
        ({"VERSION": "3", "PERCENT": "10"}, None, "version 3 of sentiment is not exported"),
        ({"VERSION": "2", "PERCENT": "10"}, ["NEGATIVE", "NEUTRAL", "POSITIVE"], "disagree on the labels"),
        ({"VERSION": "2", "PERCENT": "150"}, None, "percent 150.0 is outside 0 to 100"),
    ],
)
def test_a_refused_challenger_changes_nothing(
    tmp_path: Path, env: dict, labels_of_2: list | None, message: str
) -> None:
    result, _ = run_verb(tmp_path, "shadow", labels_of_2=labels_of_2, **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "state is unchanged" in result.stderr
    assert not [c for c in would_run(result.stdout) if "patch" in c]


def test_bad_verb_settings_stop_before_kubectl(tmp_path: Path) -> None:
    result, calls = run_verb(tmp_path, "shadow", VERSION="two", PERCENT="10")
    assert result.returncode != 0
    assert "release.py settings: VERSION must match " in result.stderr
    assert calls == []


def test_the_gate_creates_a_standalone_analysis_run_of_the_current_pair(tmp_path: Path) -> None:
    canary = '{"champion": "1", "challenger": "2", "mode": "canary", "percent": 20, "previous": null}'
    result, _ = run_verb(tmp_path, "gate", state=canary)
    assert result.returncode == 0, result.stdout + result.stderr
    (create,) = [c for c in would_run(result.stdout) if "create" in c]
    assert create[3:] == ["create", "-f", "-", "-o", "name"]
    run = argo.analysis_run(yaml.safe_load(TEMPLATE.read_text()), "1", "2")
    assert {a["name"]: a.get("value") for a in run["spec"]["args"]} == {
        "champion": "1",
        "challenger": "2",
        "prometheus": argo.PROMETHEUS_ADDRESS,
    }
    assert run["spec"]["metrics"] == yaml.safe_load(TEMPLATE.read_text())["spec"]["metrics"]


def test_the_gate_refuses_a_state_without_challenger(tmp_path: Path) -> None:
    result, _ = run_verb(tmp_path, "gate")
    assert result.returncode != 0
    assert "nothing to gate: champion 1, no challenger" in result.stderr


def analysis_run_status(phase: str, values: dict[str, str]) -> dict:
    results = [{"name": name, "phase": phase, "measurements": [{"value": value}]} for name, value in values.items()]
    return {"status": {"phase": phase, "metricResults": results}}


@pytest.mark.parametrize(
    ("phase", "decision"),
    [("Successful", "promote"), ("Failed", "rollback"), ("Inconclusive", "hold"), ("Error", "hold")],
)
def test_a_finished_analysis_run_is_the_policys_verdict(phase: str, decision: str) -> None:
    verdict = argo.run_verdict(analysis_run_status(phase, {"label-agreement": "[0.981]", "p99-excess-seconds": "[]"}))
    assert verdict is not None
    assert verdict.decision == decision
    assert verdict.checks[0].value == pytest.approx(0.981)
    assert argo.run_verdict({"status": {"phase": "Running"}}) is None


def test_the_rollout_tool_runs_from_the_deploy_venv_without_httpx(tmp_path: Path) -> None:
    """deploy.sh runs python -m rollout from .venv-deploy, which has PyYAML but neither httpx nor prometheus_client."""
    import subprocess
    import sys

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    for name in ("httpx", "prometheus_client"):
        (blocker / f"{name}.py").write_text(f"raise ImportError('{name} is not in the deploy venv')\n")
    result = subprocess.run(
        [sys.executable, "-m", "rollout", "--repository", str(tmp_path), "analysis-run", "--state-json", STATE],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": f"{blocker}:{REPO_ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "rollout analysis-run: nothing to gate: champion 1, no challenger"
