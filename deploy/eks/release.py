"""The data work of a release, for deploy.sh: settings, the release tag, the release kustomization.

deploy.sh keeps the calls to aws, docker and kubectl; everything that reads or writes data is here, with PyYAML,
and is tested without AWS (tests/deploy).

  release.py settings COMMAND       check the settings in the environment; print them as shell assignments
  release.py tag                    the release tag: git-<commit>-model-<digest of the model files>
  release.py check-model TAG        fail unless the model repository is the model TAG names
  release.py kustomization DIR      write DIR/kustomization.yaml (overlay + components + DIR/release)
  release.py split MANIFESTS DIR    DIR/namespace.yaml (applied first) and DIR/objects.yaml (the ApplySet)
  release.py unpinned MANIFESTS     the Deployments' images that no digest pins, one a line
  release.py has MANIFESTS NAME     yes or no: the rendered manifests hold Deployment NAME

Every setting is declared once, in SETTINGS: its default, what it accepts and what it means.
"""

import argparse
import hashlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

EKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = EKS_DIR.parents[1]
NAMESPACE = "sentiment"
MODEL_NAME = "sentiment"
OVERLAYS = tuple(sorted(p.name for p in (EKS_DIR / "overlays").iterdir() if (p / "kustomization.yaml").is_file()))
TRITON_IMAGE = "nvcr.io/nvidia/tritonserver"

CIDR_LIST = r"[0-9a-fA-F:.]+/[0-9]{1,3}(,[0-9a-fA-F:.]+/[0-9]{1,3})*"
DIGEST = r"sha256:[0-9a-f]{64}"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    pattern: str  # what a non-empty value must match
    help: str


SETTINGS = (
    Setting("DRY_RUN", "0", "[01]", "1: render, validate and print every command, touching nothing"),
    Setting("INSECURE", "0", "[01]", "1: let production deploy without TLS_CERT_ARN or API_KEY_HASHES"),
    Setting("OVERLAY", "staging", "|".join(OVERLAYS), "the environment (deploy/eks/overlays/<name>)"),
    Setting("EXPOSURE", "nlb", "nlb|alb", "LoadBalancer Service (NLB) or ALB Ingress"),
    Setting("TRITON_AUTOSCALER", "keda", "keda|prometheus-adapter", "what scales Triton on its queue time"),
    Setting(
        "TLS_CERT_ARN",
        "",
        r"arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+",
        "ACM certificate: TLS on the NLB (443), or HTTPS on the ALB with a redirect from 80",
    ),
    Setting(
        "API_KEY_HASHES",
        "",
        r"[0-9a-f]{64}(,[0-9a-f]{64})*",
        "comma-separated SHA-256 digests of the accepted keys (python -m gateway.api.auth hash KEY)",
    ),
    Setting(
        "REDIS_URL",
        "",
        r"rediss://[^\s:@/]*:[^\s@/]+@[^\s/]+(/[0-9]+)?",
        "ElastiCache with TLS and AUTH, rediss://<user>:<token>@<endpoint>:6379/0; replaces the in-cluster Redis",
    ),
    Setting("VPC_CIDR", "", CIDR_LIST, "the ALB's subnets, whose X-Forwarded-For the gateway believes (ALB only)"),
    Setting("SOURCE_RANGES", "", CIDR_LIST, "comma-separated CIDRs allowed to reach the load balancer"),
    Setting("EKS_CLUSTER", "", r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", "cluster name (default: from the kube context)"),
    Setting("AWS_REGION", "", r"[a-z]{2}(-[a-z]+)+-[0-9]", "region of ECR, the bucket and the cluster"),
    Setting("AWS_ACCOUNT_ID", "", r"[0-9]{12}", "ECR registry account (default: the caller's)"),
    Setting("GATEWAY_ECR_REPO", "sentiment-gateway", r"[a-z0-9][a-z0-9._/-]*", "ECR repository of the gateway"),
    Setting(
        "GATEWAY_IMAGE",
        "",
        rf"[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@{DIGEST}",
        "the gateway image by digest, as the release's build pushed it (default: build and push it now)",
    ),
    Setting(
        "IMAGE_TAG",
        "",
        r"(?!latest$)[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?",
        "the release's name: image tag and S3 prefix (default: release.py tag)",
    ),
    Setting(
        "MODEL_S3_URI",
        "",
        r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?",
        "s3://bucket/prefix; a release goes to <MODEL_S3_URI>/<OVERLAY>/<IMAGE_TAG>",
    ),
    Setting(
        "TRITON_S3_ROLE_ARN",
        "",
        r"arn:aws[a-z-]*:iam::[0-9]{12}:role/.+",
        "IAM role for Triton's service account (IRSA); empty: EKS Pod Identity",
    ),
    Setting("MODEL_REPOSITORY", "model_repository", r"[^\s]+", "the exported model repository"),
    Setting("KUBE_CONTEXT", "", r"[^\s]+", "kubeconfig context of the target cluster (default: the current one)"),
    Setting("ROLLOUT_TIMEOUT", "20m", r"[0-9]+[sm]", "how long kubectl rollout status waits for Triton"),
    Setting("DELETE_RELEASES", "0", "[01]", "teardown: 1 also deletes this overlay's model releases in S3"),
    Setting("VERSION", "", r"[0-9]+", "shadow, canary: the challenger's version (shipped by the current release)"),
    Setting("PERCENT", "", r"[0-9]+(\.[0-9]+)?", "shadow: share of texts also scored; canary: share of callers"),
    Setting("AUTO", "0", "[01]", "gate: 1 acts on the verdict (promote or rollback); 0 only prints it"),
    Setting("GATE_TIMEOUT_S", "600", r"[0-9]+", "gate: how long to wait for the AnalysisRun to finish"),
)

# What a dry run puts where a real run needs an AWS answer.
DRY_RUN_PLACEHOLDERS = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID": "123456789012",
    "MODEL_S3_URI": "s3://example-sentiment-models/releases",
    "VPC_CIDR": "10.0.0.0/16",
}


class SettingsError(ValueError):
    pass


def read_settings(environ: dict[str, str], command: str) -> dict[str, str]:
    """Each setting from the environment or its default, checked; the dry run's placeholders filled in."""
    values = {s.name: environ.get(s.name) or s.default for s in SETTINGS}
    if not values["AWS_REGION"]:
        values["AWS_REGION"] = environ.get("AWS_DEFAULT_REGION", "")
    for setting in SETTINGS:
        value = values[setting.name]
        if value and not re.fullmatch(setting.pattern, value):
            raise SettingsError(f"{setting.name} must match {setting.pattern} ({setting.help}), got {value!r}")
    dry_run = values["DRY_RUN"] == "1"
    if command in ("tag", "rollout"):  # neither needs AWS: the verbs and the gate go through kubectl only
        return values
    for name, placeholder in DRY_RUN_PLACEHOLDERS.items():
        if not values[name] and (name != "VPC_CIDR" or values["EXPOSURE"] == "alb"):
            if not dry_run and name in ("AWS_REGION", "MODEL_S3_URI"):
                raise SettingsError(f"{name} is not set ({next(s.help for s in SETTINGS if s.name == name)})")
            if dry_run:
                values[name] = placeholder
    if command == "deploy" and values["OVERLAY"] == "production":
        missing = [name for name in ("TLS_CERT_ARN", "API_KEY_HASHES") if not values[name]]
        if missing and values["INSECURE"] != "1":
            raise SettingsError(
                f"production needs TLS and API keys; missing: {', '.join(missing)}. "
                "Set them, or INSECURE=1 to deploy production without them."
            )
    return values


def exported_versions(repository: Path) -> list[str]:
    """Every version folder the export finished (its serving_metadata.json is written last), in number order:
    a release ships them all, so the rollout state can move between them without a new release."""
    model = repository / MODEL_NAME
    found = [p.name for p in model.glob("[0-9]*") if p.name.isdigit() and (p / "serving_metadata.json").is_file()]
    return sorted(found, key=int)


def model_files(repository: Path) -> list[Path]:
    """The files a release ships (what Triton loads and what the gateway image carries), relative, sorted."""
    model = repository / MODEL_NAME
    patterns = [model.glob("config.pbtxt"), model.glob("labels.txt")]
    for version in map(model.joinpath, exported_versions(repository)):
        patterns += [
            version.glob("model.onnx*"),
            version.glob("serving_metadata.json"),
            version.glob("reference_profile.json"),
            version.glob("tokenizer/**/*"),
        ]
    return sorted(p.relative_to(model) for found in patterns for p in found if p.is_file())


def model_digest(repository: Path) -> str:
    """Names and contents both count: a renamed tokenizer file is a different model too."""
    files = model_files(repository)
    if not files:
        raise SettingsError(f"no exported model in {repository}/{MODEL_NAME} (run make export first)")
    digest = hashlib.sha256()
    for name in files:
        with open(repository / MODEL_NAME / name, "rb") as f:
            digest.update(str(name).encode() + b"\0" + hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:12]


def release_tag(repository: Path, dry_run: bool) -> str:
    """The commit and the model: a new export with no code change is a new release. A dry run may name a
    work tree with changes (<commit>-dirty); a real release may not."""
    git = ["git", "-C", str(REPO_ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, check=True)
    status = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
    )
    dirty = "-dirty" if status.stdout.strip() else ""
    if dirty and not dry_run:
        raise SettingsError("the work tree has uncommitted changes: the images would not be the commit's")
    return f"git-{commit.stdout.strip()}{dirty}-model-{model_digest(repository)}"


def check_model(repository: Path, tag: str) -> None:
    expected = tag.rpartition("-model-")[2]
    actual = model_digest(repository)
    if expected != actual:
        raise SettingsError(f"the model in {repository} has digest {actual}, but the release {tag} names {expected}")


def overlay_has_in_cluster_redis(overlay: str) -> bool:
    kustomization = yaml.safe_load((EKS_DIR / "overlays" / overlay / "kustomization.yaml").read_text())
    return any(c.rstrip("/").endswith("components/redis") for c in kustomization.get("components") or [])


def json_patch(target: dict, *operations: dict) -> dict:
    return {"target": target, "patch": yaml.safe_dump(list(operations), sort_keys=False)}


def release_component(settings: dict[str, str]) -> dict:
    """The release's own component, applied last: images, the model's S3 prefix, keys, Redis, proxies, TLS."""
    overlay, tag = settings["OVERLAY"], settings["IMAGE_TAG"]
    registry = f"{settings['AWS_ACCOUNT_ID']}.dkr.ecr.{settings['AWS_REGION']}.amazonaws.com"
    gateway = settings["GATEWAY_IMAGE"]
    if gateway:
        name, _, digest = gateway.partition("@")
        gateway_image = {"name": "sentiment-gateway", "newName": name, "digest": digest}
    else:
        gateway_image = {"name": "sentiment-gateway", "newName": f"{registry}/{settings['GATEWAY_ECR_REPO']}"}
        gateway_image["newTag"] = tag
    # The NLB keeps the caller's address (client IP preservation): no proxy adds X-Forwarded-For, so none is
    # believed. Behind the ALB, only the VPC the ALB's nodes live in.
    trusted_proxies = settings["VPC_CIDR"] if settings["EXPOSURE"] == "alb" else "127.0.0.1"
    gateway_literals = [f"GATEWAY_FORWARDED_ALLOW_IPS={trusted_proxies}"]
    component: dict = {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "labels": [
            {
                "pairs": {
                    "app.kubernetes.io/part-of": "sentiment",
                    "app.kubernetes.io/managed-by": "deploy.sh",
                    "app.kubernetes.io/instance": f"sentiment-{overlay}",
                    "app.kubernetes.io/version": tag,
                },
                "includeSelectors": False,
                "includeTemplates": True,
            }
        ],
        "images": [gateway_image],
        "configMapGenerator": [
            {"name": "gateway-config", "behavior": "merge", "literals": gateway_literals},
            {
                "name": "triton-config",
                "behavior": "merge",
                "literals": [
                    f"MODEL_REPOSITORY={settings['MODEL_S3_URI'].rstrip('/')}/{overlay}/{tag}",
                    f"AWS_DEFAULT_REGION={settings['AWS_REGION']}",
                ],
            },
        ],
        "secretGenerator": [],
        "patches": [],
    }
    patches, secrets = component["patches"], component["secretGenerator"]
    if settings["TRITON_S3_ROLE_ARN"]:
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "triton", "namespace": NAMESPACE}}
        account["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": settings["TRITON_S3_ROLE_ARN"]}
        patches.append({"patch": yaml.safe_dump(account)})
    if settings["API_KEY_HASHES"]:
        # Its name carries a hash of the digests, so rotating keys rolls the gateway.
        secrets.append(
            {
                "name": "gateway-api-keys",
                "namespace": NAMESPACE,
                "literals": [f"api-key-hashes={settings['API_KEY_HASHES']}"],
            },
        )
    else:
        # No keys (staging, or production with INSECURE=1): the gateway starts without the Secret.
        patches.append(
            json_patch(
                {"group": "apps", "kind": "Deployment", "name": "gateway"},
                {
                    "op": "test",
                    "path": "/spec/template/spec/containers/0/env/0/name",
                    "value": "GATEWAY_API_KEY_HASHES",
                },
                {
                    "op": "replace",
                    "path": "/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/optional",
                    "value": True,
                },
            )
        )
    if settings["REDIS_URL"]:
        # ElastiCache: the URL carries its AUTH token, so it lives in a Secret, never in the ConfigMap.
        secrets.append({"name": "gateway-redis", "namespace": NAMESPACE, "literals": [f"url={settings['REDIS_URL']}"]})
        # A strategic merge by env name: it replaces the in-cluster Redis's REDIS_URL and drops its password.
        gateway_env = [
            {
                "name": "REDIS_URL",
                "value": None,
                "valueFrom": {"secretKeyRef": {"name": "gateway-redis", "key": "url"}},
            },
            {"name": "REDIS_PASSWORD", "$patch": "delete"},
        ]
        gateway_patch = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "gateway", "namespace": NAMESPACE},
            "spec": {"template": {"spec": {"containers": [{"name": "gateway", "env": gateway_env}]}}},
        }
        patches.append({"patch": yaml.safe_dump(gateway_patch, sort_keys=False)})
        if overlay_has_in_cluster_redis(overlay):
            patches.extend(
                {"patch": yaml.safe_dump({"$patch": "delete", "apiVersion": api, "kind": kind, "metadata": meta})}
                for api, kind in (
                    ("apps/v1", "Deployment"),
                    ("v1", "Service"),
                    ("networking.k8s.io/v1", "NetworkPolicy"),
                )
                for meta in [{"name": "redis", "namespace": NAMESPACE}]
            )
    nlb = {"version": "v1", "kind": "Service", "name": "gateway"}
    nlb["annotationSelector"] = "service.beta.kubernetes.io/aws-load-balancer-type=external"
    ingress = {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress", "name": "gateway"}
    if settings["TLS_CERT_ARN"]:
        for target, annotation in (
            (nlb, "service.beta.kubernetes.io~1aws-load-balancer-ssl-cert"),
            (ingress, "alb.ingress.kubernetes.io~1certificate-arn"),
        ):
            patches.append(
                json_patch(
                    target,
                    {"op": "replace", "path": f"/metadata/annotations/{annotation}", "value": settings["TLS_CERT_ARN"]},
                )
            )
    if settings["SOURCE_RANGES"]:
        ranges = settings["SOURCE_RANGES"]
        patches.append(
            json_patch(nlb, {"op": "add", "path": "/spec/loadBalancerSourceRanges", "value": ranges.split(",")})
        )
        patches.append(
            json_patch(
                ingress,
                {
                    "op": "add",
                    "path": "/metadata/annotations/alb.ingress.kubernetes.io~1inbound-cidrs",
                    "value": ranges,
                },
            )
        )
    return {key: value for key, value in component.items() if value != []}


def write_kustomization(settings: dict[str, str], work: Path) -> None:
    rel = Path(os.path.relpath(EKS_DIR, work))
    components = []
    if settings["EXPOSURE"] == "alb":
        components.append(rel / "components" / "alb-ingress")
    if settings["TRITON_AUTOSCALER"] == "prometheus-adapter":
        components.append(rel / "components" / "triton-hpa-prometheus-adapter")
    if settings["TLS_CERT_ARN"]:
        components.append(rel / "components" / "tls")
    top = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [str(rel / "overlays" / settings["OVERLAY"])],
        "components": [*map(str, components), "release"],
    }
    (work / "release").mkdir(parents=True, exist_ok=True)
    (work / "kustomization.yaml").write_text(yaml.safe_dump(top, sort_keys=False))
    (work / "release" / "kustomization.yaml").write_text(yaml.safe_dump(release_component(settings), sort_keys=False))


def split(manifests: Path, out: Path) -> None:
    """The Namespace first, on its own: the ApplySet's parent Secret lives in it."""
    documents = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
    namespaces = [d for d in documents if d["kind"] == "Namespace"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "namespace.yaml").write_text(yaml.safe_dump_all(namespaces, sort_keys=False))
    (out / "objects.yaml").write_text(
        yaml.safe_dump_all([d for d in documents if d not in namespaces], sort_keys=False)
    )


def deployments(manifests: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(manifests.read_text()) if d and d["kind"] == "Deployment"]


def unpinned_images(manifests: Path) -> list[str]:
    """A tag can be moved; a digest cannot. Each image once."""
    images = (c["image"] for d in deployments(manifests) for c in d["spec"]["template"]["spec"]["containers"])
    return sorted({image for image in images if not re.search(rf"@{DIGEST}$", image)})


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("settings").add_argument("for_command", choices=["deploy", "tag", "teardown", "rollout"])
    commands.add_parser("tag")
    commands.add_parser("check-model").add_argument("tag")
    commands.add_parser("kustomization").add_argument("work", type=Path)
    split_parser = commands.add_parser("split")
    split_parser.add_argument("manifests", type=Path)
    split_parser.add_argument("out", type=Path)
    commands.add_parser("unpinned").add_argument("manifests", type=Path)
    has_parser = commands.add_parser("has")
    has_parser.add_argument("manifests", type=Path)
    has_parser.add_argument("deployment")
    args = parser.parse_args(argv)
    try:
        if args.command == "settings":
            for name, value in read_settings(dict(os.environ), args.for_command).items():
                print(f"{name}={shlex.quote(value)}")
            return 0
        settings = read_settings(dict(os.environ), "tag")
        repository = REPO_ROOT / settings["MODEL_REPOSITORY"]
        if args.command == "tag":
            print(release_tag(repository, settings["DRY_RUN"] == "1"))
        elif args.command == "check-model":
            check_model(repository, args.tag)
        elif args.command == "kustomization":
            write_kustomization(read_settings(dict(os.environ), "deploy"), args.work)
        elif args.command == "split":
            split(args.manifests, args.out)
        elif args.command == "has":
            print("yes" if any(d["metadata"]["name"] == args.deployment for d in deployments(args.manifests)) else "no")
        else:
            print("\n".join(unpinned_images(args.manifests)))
    except (SettingsError, subprocess.CalledProcessError) as error:
        print(f"release.py {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
