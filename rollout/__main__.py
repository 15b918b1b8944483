"""``python -m rollout VERB``: shadow, canary, promote and roll back model versions, and gate them.

On the local stack (``make shadow|canary|promote|rollback|gate``): init, status, shadow, canary, promote,
rollback, gate. For deploy.sh on EKS, where kubectl does the talking: plan (the next state from the
ConfigMap's, on stdin), analysis-template, analysis-run and analysis-verdict (Argo Rollouts). Errors are one
line on stderr and exit status 2, as the export's.
"""

import argparse
import json
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path

from contract.labelled_data import CorpusError
from contract.rollout import RolloutError, RolloutState, incompatibility, promote, rollback, try_challenger
from rollout import argo, verbs
from rollout.policy import DEFAULT_POLICY, Figures, Policy, PolicyError, Verdict, VersionFigures
from rollout.stack import API_KEY_ENV, Stack, StackError

LOCAL_VERBS = ("init", "status", "shadow", "canary", "promote", "rollback", "gate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rollout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8080", help="gateway URL (default: %(default)s)")
    parser.add_argument("--triton", default="127.0.0.1:8000", help="Triton HTTP address (default: %(default)s)")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"), help="the model repository")
    parser.add_argument("--name", default="sentiment", help="the Triton model (default: %(default)s)")
    parser.add_argument("--state", type=Path, default=Path("run/rollout.json"), help="the rollout state file")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for Triton and the gateway")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="the gate's policy (TOML)")
    verbs_parser = parser.add_subparsers(dest="verb", required=True)
    init = verbs_parser.add_parser("init", help="pin the served version in a new state file (kept if present)")
    init.add_argument("--version", type=int, help="default: the highest exported")
    verbs_parser.add_parser("status", help="the state file and what the gateway reports")
    for mode in ("shadow", "canary"):
        verb = verbs_parser.add_parser(mode, help=f"{mode} VERSION at PERCENT")
        verb.add_argument("--version", default="")
        verb.add_argument("--percent", default="")
    verbs_parser.add_parser("promote", help="the challenger becomes the champion")
    verbs_parser.add_parser("rollback", help="drop the challenger, or return to the previous champion")
    gate = verbs_parser.add_parser("gate", help="the pair's figures and the policy's verdict")
    gate.add_argument("--auto", action="store_true", help="act on the verdict: promote or roll back")
    gate.add_argument("--accuracy-data", type=Path, help="labelled sentence<TAB>label set scored by both versions")
    plan = verbs_parser.add_parser("plan", help="EKS: the next state (JSON) from the current one on stdin")
    # keep: check that the current state names only versions this release ships, and print it unchanged.
    plan.add_argument("transition", choices=["init", "keep", "shadow", "canary", "promote", "rollback"])
    plan.add_argument("--version", default="")
    plan.add_argument("--percent", default="")
    plan.add_argument("--patch", action="store_true", help="print a kubectl merge patch of the ConfigMap instead")
    matches = verbs_parser.add_parser("matches", help="EKS: exit 0 when GET /'s rollout (JSON, stdin) is the state")
    matches.add_argument("--state-json", required=True)
    verbs_parser.add_parser("analysis-template", help="EKS: the AnalysisTemplate the policy makes (YAML)")
    run = verbs_parser.add_parser("analysis-run", help="EKS: an AnalysisRun of the template for one pair (JSON)")
    run.add_argument("--state-json", required=True, help="the rollout state whose pair to gate")
    verbs_parser.add_parser("analysis-verdict", help="EKS: a finished AnalysisRun (JSON, stdin) as a verdict")
    return parser


def target(args: argparse.Namespace) -> verbs.Target:
    stack = Stack(args.gateway, args.triton, api_key=os.environ.get(API_KEY_ENV))
    return verbs.Target(stack, args.repository, args.name, args.state, timeout_s=args.timeout)


def milliseconds(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def version_line(role: str, version: str, figures: VersionFigures) -> str:
    accuracy = "" if figures.accuracy is None else f", accuracy {figures.accuracy:.2%}"
    return (
        f"  {role} {version}: {figures.requests:.0f} requests, error rate {figures.error_rate:.2%}, "
        f"p99 {milliseconds(figures.p99_s)}{accuracy}"
    )


def report(figures: Figures | None, verdict: Verdict) -> list[str]:
    lines = []
    if figures is not None:
        lines += [
            f"gate: champion {figures.champion}, challenger {figures.challenger}",
            f"  compared texts {figures.compared_texts:.0f}, label agreement {figures.agreement:.2%}, "
            f"|score delta| mean {figures.mean_score_delta:.4f} p95 {figures.p95_score_delta:.4f}, "
            f"label shift {figures.label_shift:.2%}",
            version_line("champion", figures.champion, figures.champion_figures),
            version_line("challenger", figures.challenger, figures.challenger_figures),
        ]
    lines += [f"  {check.line()}" for check in verdict.checks]
    lines.append(f"verdict: {verdict.decision} ({verdict.reason})")
    return lines


def version_and_percent(args: argparse.Namespace) -> tuple[str, float]:
    """VERSION and PERCENT as make passes them (maybe empty), checked here so a mistake is one line."""
    example = f"make {args.transition if args.verb == 'plan' else args.verb} VERSION=2 PERCENT=10"
    if not args.version.isdigit() or not args.percent:
        raise RolloutError(f"give a version number and a share: {example}")
    try:
        percent = float(args.percent)
    except ValueError as error:
        raise RolloutError(f"PERCENT must be a number from 0 to 100, got {args.percent!r}") from error
    return args.version, percent


def plan(args: argparse.Namespace) -> RolloutState:
    """The EKS verbs' state change: pure, checked against the release's model repository (what its image bakes)."""
    if args.transition == "init":
        return verbs.initial_state(args.repository, args.name)
    state = RolloutState.parse(sys.stdin.read())
    local = verbs.Target(Stack("", ""), args.repository, args.name, args.state)
    for version in filter(None, (state.champion, state.challenger)):
        verbs.metadata(local, version)  # a state naming a version this release lacks is refused here
    if args.transition == "keep":
        return state
    if args.transition in ("shadow", "canary"):
        version, percent = version_and_percent(args)
        why = incompatibility(verbs.metadata(local, state.champion), verbs.metadata(local, version))
        if why:
            raise RolloutError(f"version {version} cannot challenge {state.champion}: {why}")
        new = try_challenger(state, version, args.transition, percent)
    else:
        new = promote(state) if args.transition == "promote" else rollback(state)
    print(f"{args.transition}: {verbs.describe(new)} (was: {verbs.describe(state)})", file=sys.stderr)
    return new


def run_local(args: argparse.Namespace, policy: Policy) -> None:
    if args.verb == "init":
        if args.state.exists():
            print(f"rollout state kept: {verbs.describe(RolloutState.read(args.state))} ({args.state})")
            return
        state = verbs.initial_state(args.repository, args.name, args.version)
        state.write(args.state)
        print(f"rollout state written: {verbs.describe(state)} ({args.state})")
    elif args.verb == "status":
        print(verbs.status(target(args)))
    elif args.verb in ("shadow", "canary"):
        version, percent = version_and_percent(args)
        print(verbs.try_version(target(args), version, args.verb, percent))
    elif args.verb == "promote":
        print(verbs.promote_challenger(target(args)))
    elif args.verb == "rollback":
        print(verbs.roll_back(target(args)))
    elif args.verb == "gate":
        figures, verdict = verbs.gate(target(args), policy, args.accuracy_data)
        print("\n".join(report(figures, verdict)))
        if args.auto:
            print(verbs.act(target(args), verdict) or "hold: nothing changed")


def run_eks(args: argparse.Namespace, policy: Policy) -> None:
    if args.verb == "plan":
        state = json.dumps(asdict(plan(args)))
        print(json.dumps({"data": {"rollout.json": state}}) if args.patch else state)
    elif args.verb == "matches":
        expected = RolloutState.parse(args.state_json)
        report = json.loads(sys.stdin.read()).get("rollout") or {}
        if not verbs.reported(report, expected):
            raise RolloutError(f"the gateway reports {report}, not {verbs.describe(expected)}")
    elif args.verb == "analysis-template":
        print(argo.analysis_template_yaml(policy), end="")
    elif args.verb == "analysis-run":
        state = RolloutState.parse(args.state_json)
        if state.challenger is None:
            raise RolloutError(f"nothing to gate: {verbs.describe(state)}")
        print(json.dumps(argo.analysis_run(argo.analysis_template(policy), state.champion, state.challenger)))
    elif args.verb == "analysis-verdict":
        verdict = argo.run_verdict(json.loads(sys.stdin.read()))
        if verdict is None:
            raise RolloutError("the AnalysisRun has not finished")
        print("\n".join(report(None, verdict)), file=sys.stderr)
        print(verdict.decision)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        policy = Policy.read(args.policy)
        (run_local if args.verb in LOCAL_VERBS else run_eks)(args, policy)
    except (RolloutError, StackError, PolicyError, CorpusError, OSError) as error:
        print(f"rollout {args.verb}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
