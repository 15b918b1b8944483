"""The EKS gate: Argo Rollouts analysis generated from the policy, and its outcome read back. Pure.

One decision for every replica: Argo Rollouts' controller runs the PromQL below against Prometheus, which has
scraped every gateway pod, and each query sums over all of them. The gate is a standalone AnalysisRun made
from the AnalysisTemplate (deploy.sh gate): the canary is a share of callers inside the gateway, not a new pod
template, so there is no Rollout whose steps could carry the analysis (docs/rollouts.md says more).

Each metric's query returns nothing until the sample is large enough (``and on() <enough>``); a metric with
no result meets neither condition and is Inconclusive, which is the policy's hold. Successful is promote,
Failed is rollback.
"""

import json
import math
from typing import Any

from rollout.policy import Check, Decision, Policy, Verdict

NAMESPACE = "sentiment"
TEMPLATE_NAME = "gateway-rollout-gate"
PROMETHEUS_ADDRESS = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
CHAMPION, CHALLENGER = "{{args.champion}}", "{{args.challenger}}"


def _increase(metric: str, selector: str, window: str) -> str:
    return f"sum(increase({metric}{{{selector}}}[{window}]))"


def _requests(version: str, outcome: str, window: str) -> str:
    """A version's requests of one outcome; 0, not nothing, when it never had one (a series appears only once
    its counter is first incremented, and an error-free challenger has no error series)."""
    return f"({_increase('gateway_version_requests_total', version_selector(version, outcome), window)} or vector(0))"


def pair_selector(champion: str = CHAMPION, challenger: str = CHALLENGER) -> str:
    return f'namespace="{NAMESPACE}",champion="{champion}",challenger="{challenger}"'


def version_selector(version: str, outcome: str | None = None) -> str:
    extra = f',outcome="{outcome}"' if outcome else ""
    return f'namespace="{NAMESPACE}",version="{version}"{extra}'


def _error_rate(version: str, window: str) -> str:
    errors, ok = _requests(version, "error", window), _requests(version, "ok", window)
    return f"({errors} / ({errors} + {ok}))"


def _p99(version: str, window: str) -> str:
    selector = version_selector(version)
    return f"histogram_quantile(0.99, sum by (le) (rate(gateway_version_seconds_bucket{{{selector}}}[{window}])))"


def enough_sample(policy: Policy) -> str:
    """Non-empty only when both sample minimums are met over the window."""
    window = policy.prometheus_window
    compared = _increase("gateway_compared_texts_total", pair_selector(), window)
    ok, errors = _requests(CHALLENGER, "ok", window), _requests(CHALLENGER, "error", window)
    return (
        f"({compared} >= {policy.min_compared_texts}) and on() (({ok} + {errors}) >= {policy.min_challenger_requests})"
    )


def agreement_query(window: str, champion: str = CHAMPION, challenger: str = CHALLENGER) -> str:
    pair = pair_selector(champion, challenger)
    agreements = _increase("gateway_compared_agreements_total", pair, window)
    return f"{agreements} / {_increase('gateway_compared_texts_total', pair, window)}"


def metrics(policy: Policy) -> list[dict[str, Any]]:
    """The AnalysisTemplate's metrics: (name, query, the condition a good challenger meets)."""
    window = policy.prometheus_window
    slack_s = policy.p99_slack_ms / 1000
    checks = [
        ("label-agreement", agreement_query(window), f">= {policy.min_label_agreement}"),
        (
            "error-rate-increase",
            f"{_error_rate(CHALLENGER, window)} - {_error_rate(CHAMPION, window)}",
            f"<= {policy.max_error_rate_increase}",
        ),
        (
            "p99-excess-seconds",
            f"{_p99(CHALLENGER, window)} - ({_p99(CHAMPION, window)} * {policy.max_p99_ratio} + {slack_s})",
            "<= 0",
        ),
    ]
    return [
        {
            "name": name,
            "successCondition": f"len(result) > 0 && result[0] {condition}",
            "failureCondition": f"len(result) > 0 && !(result[0] {condition})",
            "provider": {
                "prometheus": {
                    "address": "{{args.prometheus}}",
                    "query": f"({query}) and on() {enough_sample(policy)}",
                }
            },
        }
        for name, query, condition in checks
    ]


def disagreement_alert(policy: Policy) -> str:
    """The PrometheusRule's expression: a canary challenger whose agreement is under the policy's floor, over
    the policy's window and sample, summed over all gateway pods, per pair."""
    window, by = policy.prometheus_window, "sum by (champion, challenger)"
    selector = f'namespace="{NAMESPACE}"'
    compared = f"{by} (increase(gateway_compared_texts_total{{{selector}}}[{window}]))"
    agreements = f"{by} (increase(gateway_compared_agreements_total{{{selector}}}[{window}]))"
    canary = f'max by (champion, challenger) (gateway_rollout_info{{{selector},mode="canary"}}) == 1'
    return (
        f"({agreements} / {compared} < {policy.min_label_agreement})"
        f" and on (champion, challenger) ({compared} >= {policy.min_compared_texts})"
        f" and on (champion, challenger) ({canary})"
    )


def analysis_template(policy: Policy) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": TEMPLATE_NAME, "labels": {"app.kubernetes.io/name": "gateway-rollout-gate"}},
        "spec": {
            "args": [
                {"name": "champion"},
                {"name": "challenger"},
                {"name": "prometheus", "value": PROMETHEUS_ADDRESS},
            ],
            "metrics": metrics(policy),
        },
    }


def analysis_template_yaml(policy: Policy) -> str:
    import yaml  # only for writing the committed file; the run and the verdict need none

    header = (
        "# Generated from deploy/rollout-policy.toml by `python -m rollout analysis-template`; do not edit:\n"
        "# tests/rollout keep it equal to what the policy generates. The gate's verdict is the AnalysisRun's\n"
        "# phase: Successful = promote, Failed = rollback, Inconclusive (too few samples) = hold.\n"
    )
    return header + yaml.safe_dump(analysis_template(policy), sort_keys=False, width=1000)


def analysis_run(template: dict[str, Any], champion: str, challenger: str) -> dict[str, Any]:
    """A standalone AnalysisRun of ``template`` for one pair, as ``kubectl argo rollouts create analysisrun``
    makes it: the template's metrics, its args with the pair's values (the controller fills the queries in)."""
    values = {"champion": champion, "challenger": challenger}
    args = [arg | ({"value": values[arg["name"]]} if arg["name"] in values else {}) for arg in template["spec"]["args"]]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "generateName": f"{TEMPLATE_NAME}-{champion}-{challenger}-",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "gateway-rollout-gate"},
        },
        "spec": {"args": args, "metrics": template["spec"]["metrics"]},
    }


PHASE_DECISIONS: dict[str, Decision] = {"Successful": "promote", "Failed": "rollback", "Inconclusive": "hold"}
FINISHED = (*PHASE_DECISIONS, "Error")


def run_verdict(run: dict[str, Any]) -> Verdict | None:
    """The verdict of a finished AnalysisRun (``kubectl get analysisrun -o json``), None while it runs. An Error
    (Prometheus unreachable, a bad query) decides nothing: hold, with the controller's message."""
    status = run.get("status") or {}
    phase = status.get("phase", "")
    if phase not in FINISHED:
        return None
    checks = []
    for result in status.get("metricResults") or []:
        measurements = result.get("measurements") or [{}]
        values = json.loads(measurements[-1].get("value") or "[]")
        value = float(values[0]) if values else math.nan
        checks.append(Check(result["name"], value, math.nan, result.get("phase") == "Successful"))
    message = status.get("message") or f"analysis {phase}"
    return Verdict(PHASE_DECISIONS.get(phase, "hold"), message, tuple(checks))
