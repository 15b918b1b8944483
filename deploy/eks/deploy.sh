#!/usr/bin/env bash
# Ship the sentiment service to EKS (`make deploy`). This script makes the calls to aws, docker and kubectl;
# release.py does the data work (settings, tag, kustomization) and preflight.py checks the cluster.
#
#   deploy.sh            deploy (the default)
#   deploy.sh tag        print the release tag and exit (the workflow's build job names its release with it)
#   deploy.sh teardown   delete the namespace, the load balancers the controller left, and (DELETE_RELEASES=1)
#                        this overlay's model releases in S3
#   deploy.sh shadow|canary   VERSION=2 PERCENT=10: try a shipped version beside the champion (docs/rollouts.md)
#   deploy.sh promote|rollback    the challenger becomes the champion / drop it, or return to the previous one
#   deploy.sh gate       the pair's Argo Rollouts analysis (Prometheus, all pods) and its verdict; AUTO=1 acts on it
#
# The verbs patch the ConfigMap gateway-rollout, which every gateway pod mounts: one decision for all replicas,
# and it survives their restarts and later releases.
#
# Settings: python deploy/eks/release.py settings --help lists none; SETTINGS in release.py declares them all,
# once, with their defaults. DRY_RUN=1 renders and validates everything and prints the aws, docker and
# kubectl commands it would run, touching nothing.
set -Eeuo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

KUBECTL="${KUBECTL:-.venv-deploy/bin/kubectl}"
PYTHON="${PYTHON:-.venv-deploy/bin/python}"
CHECKOV="${CHECKOV:-.venv-checkov/bin/checkov}"
RUN_CHECKOV="${RUN_CHECKOV:-auto}"
K8S_VERSION="${K8S_VERSION:-1.35}"
RENDER_DIR="${RENDER_DIR:-}"
readonly EKS_DIR=deploy/eks NAMESPACE=sentiment APPLYSET=sentiment-release BUILDER=sentiment-release
readonly ROLLOUT_CONFIGMAP=gateway-rollout
# The controller names its load balancers k8s-<namespace, 8 characters>-<name, 8 characters>-<hash>.
readonly LB_NAME_PREFIX="k8s-${NAMESPACE:0:8}-"
export KUBECTL

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
# set -E makes functions and subshells inherit this trap, so a failure anywhere names its step.
on_error() {
    local status=$?
    printf '\nERROR [%s]: command failed with exit status %s (line %s); stopping.\n' "$CURRENT_STEP" "$status" "$1" >&2
    exit "$status"
}
trap 'on_error $LINENO' ERR

release_py() { "$PYTHON" "$EKS_DIR/release.py" "$@"; }
rollout_py() { "$PYTHON" -m rollout --repository "$MODEL_REPOSITORY" "$@"; }
is_dry_run() { [[ "$DRY_RUN" == "1" ]]; }
kubectl_cmd() { "$KUBECTL" ${KUBE_CONTEXT:+--context "$KUBE_CONTEXT"} "$@"; }

# Print a command; run it unless this is a dry run.
run() {
    local quoted
    quoted="$(printf '%q ' "$@")"
    if is_dry_run; then
        printf '    would run: %s\n' "${quoted% }"
    else
        printf '    + %s\n' "${quoted% }"
        "$@"
    fi
}
run_kubectl() { run "$KUBECTL" ${KUBE_CONTEXT:+--context "$KUBE_CONTEXT"} "$@"; }

load_settings() {
    step "Check settings"
    [[ -x "$PYTHON" ]] || die "python not found at $PYTHON; make deploy creates .venv-deploy with it"
    local assignments
    assignments="$(release_py settings "$1")" || die "settings refused (above)"
    eval "$assignments"
    info "overlay=$OVERLAY exposure=$EXPOSURE triton_autoscaler=$TRITON_AUTOSCALER region=$AWS_REGION dry_run=$DRY_RUN"
    if [[ "$OVERLAY" == production && "$INSECURE" == 1 ]]; then
        info "WARNING: INSECURE=1: production deploys without TLS or API keys"
    fi
}

name_release() {
    step "Name the release"
    if [[ -z "$IMAGE_TAG" ]]; then IMAGE_TAG="$(release_py tag)"; fi
    is_dry_run || release_py check-model "$IMAGE_TAG"
    export IMAGE_TAG
    info "image_tag=$IMAGE_TAG"
}

check_cluster() {
    step "Check AWS credentials and the cluster"
    if is_dry_run; then
        run aws sts get-caller-identity --query Account --output text
        run "$PYTHON" "$EKS_DIR/preflight.py" "${EKS_CLUSTER:-<cluster>}" "$AWS_REGION" "$TRITON_AUTOSCALER" "$TRITON_S3_ROLE_ARN"
        return
    fi
    command -v aws >/dev/null || die "the AWS CLI v2 is not on PATH: https://docs.aws.amazon.com/cli/"
    local account
    account="$(aws sts get-caller-identity --query Account --output text)" \
        || die "no working AWS credentials (aws sts get-caller-identity failed); log in (aws sso login)"
    [[ -z "$AWS_ACCOUNT_ID" || "$AWS_ACCOUNT_ID" == "$account" ]] \
        || die "AWS_ACCOUNT_ID=$AWS_ACCOUNT_ID but the credentials belong to account $account"
    AWS_ACCOUNT_ID="$account"
    if [[ -z "$EKS_CLUSTER" ]]; then
        EKS_CLUSTER="$(kubectl_cmd config view --minify -o 'jsonpath={.clusters[0].name}')"
        EKS_CLUSTER="${EKS_CLUSTER##*/}"
    fi
    "$PYTHON" "$EKS_DIR/preflight.py" "$EKS_CLUSTER" "$AWS_REGION" "$TRITON_AUTOSCALER" "$TRITON_S3_ROLE_ARN" \
        | sed 's/^/    /' || die "the cluster is missing what the release needs (above)"
    if [[ "$EXPOSURE" == alb && -z "$VPC_CIDR" ]]; then
        local vpc
        vpc="$(aws eks describe-cluster --region "$AWS_REGION" --name "$EKS_CLUSTER" \
            --query cluster.resourcesVpcConfig.vpcId --output text)"
        VPC_CIDR="$(aws ec2 describe-vpcs --region "$AWS_REGION" --vpc-ids "$vpc" \
            --query 'Vpcs[0].CidrBlockAssociationSet[].CidrBlock' --output text | tr -s '[:space:]' ',')"
        export VPC_CIDR="${VPC_CIDR%,}"
    fi
}

build_gateway() {
    step "Gateway image"
    if [[ -n "$GATEWAY_IMAGE" ]]; then
        info "the release's image: $GATEWAY_IMAGE (built and tested once, promoted here)"
        return
    fi
    local registry="$AWS_ACCOUNT_ID.dkr.ecr.$AWS_REGION.amazonaws.com"
    run docker buildx create --name "$BUILDER" --driver docker-container --bootstrap
    # Provenance and an SBOM travel with the image as attestations (the docker-container builder has them).
    run docker buildx build --builder "$BUILDER" --platform linux/amd64 --provenance=mode=max --sbom=true --push \
        -f "$EKS_DIR/docker/gateway.Dockerfile" -t "$registry/$GATEWAY_ECR_REPO:$IMAGE_TAG" .
    if ! is_dry_run; then
        GATEWAY_IMAGE="$registry/$GATEWAY_ECR_REPO@$(aws ecr describe-images --region "$AWS_REGION" \
            --repository-name "$GATEWAY_ECR_REPO" --image-ids "imageTag=$IMAGE_TAG" \
            --query 'imageDetails[0].imageDigest' --output text)"
        export GATEWAY_IMAGE
    fi
}

render() {
    step "Render and validate manifests ($OVERLAY)"
    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/sentiment-eks.XXXXXX")"
    RENDER_DIR="${RENDER_DIR:-$work/rendered}"
    MANIFESTS="$RENDER_DIR/manifests.yaml"
    mkdir -p "$RENDER_DIR"
    release_py kustomization "$work"
    "$KUBECTL" kustomize "$work" >"$MANIFESTS"
    release_py split "$MANIFESTS" "$RENDER_DIR"
    "$PYTHON" "$EKS_DIR/validate_manifests.py" --kubernetes-version "$K8S_VERSION" "$MANIFESTS" | sed 's/^/    /' \
        || die "schema validation failed (see INVALID lines above)"
    "$PYTHON" "$EKS_DIR/release_summary.py" "$MANIFESTS" | sed 's/^/    /' \
        || die "this release would drop requests or run unpinned images (see UNSAFE lines above)"
    if [[ "$RUN_CHECKOV" == 1 || ("$RUN_CHECKOV" == auto && -x "$CHECKOV") ]]; then
        "$CHECKOV" -f "$MANIFESTS" --framework kubernetes --compact --quiet --skip-download | sed 's/^/    /' \
            || die "checkov reported failed checks"
    fi
    IN_CLUSTER_REDIS="$(release_py has "$MANIFESTS" redis)"
    # A real run pins every image by digest. The stock NGC Triton and Redis images need theirs filled in
    # (deploy/eks/base/kustomization.yaml, components/redis/redis.yaml); the gateway's comes from its push.
    local unpinned
    unpinned="$(release_py unpinned "$MANIFESTS")"
    if [[ -n "$unpinned" ]]; then
        is_dry_run || die "images not pinned by digest: ${unpinned//$'\n'/, }"
        info "warning: not pinned by digest, which a real run refuses: ${unpinned//$'\n'/, }"
    fi
}

publish_model() {
    local uri="${MODEL_S3_URI%/}/$OVERLAY/$IMAGE_TAG"
    step "Publish the model to $uri"
    # Only what the GPU config (config.pbtxt, onnxruntime backend) loads; a prefix per overlay and release,
    # so a rollback of the Deployment also rolls back the model and a teardown touches only its own.
    run aws s3 sync "$MODEL_REPOSITORY/sentiment" "$uri/sentiment" --region "$AWS_REGION" --no-progress \
        --exclude "*" --include config.pbtxt --include labels.txt --include "*/model.onnx*"
}

# The in-cluster Redis's password: generated once, kept across releases (a new one would restart Redis and the
# gateways for nothing), outside the ApplySet so no prune removes it; the namespace's deletion does.
ensure_redis_password() {
    [[ "$IN_CLUSTER_REDIS" == yes ]] || return 0
    if ! is_dry_run && kubectl_cmd -n "$NAMESPACE" get secret redis-auth >/dev/null 2>&1; then
        info "Secret redis-auth exists; the in-cluster Redis keeps its password"
        return
    fi
    local password_file
    password_file="$(mktemp)" # mode 0600
    "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32), end="")' >"$password_file"
    run_kubectl -n "$NAMESPACE" create secret generic redis-auth --from-file=password="$password_file"
    rm -f "$password_file"
}

current_rollout_state() {
    kubectl_cmd -n "$NAMESPACE" get configmap "$ROLLOUT_CONFIGMAP" -o 'jsonpath={.data.rollout\.json}'
}

# The rollout state: created once (champion: the highest version shipped), outside the ApplySet so that neither
# a release's apply nor its prune resets what the verbs decided; a later release only checks that it still ships
# every version the state names.
ensure_rollout_state() {
    local state
    if ! is_dry_run && state="$(current_rollout_state 2>/dev/null)" && [[ -n "$state" ]]; then
        rollout_py plan keep <<<"$state" >/dev/null \
            || die "the rollout state names a version this release does not ship (above); ship it, or roll back first"
        info "ConfigMap $ROLLOUT_CONFIGMAP kept: $state"
        return
    fi
    # A dry run on a fresh clone has nothing exported; a real run has (check-model), so it never guesses.
    state="$(rollout_py plan init </dev/null)" || { is_dry_run && state='{"champion": "<highest exported>"}'; } \
        || die "no exported version to name as the champion (above)"
    run_kubectl -n "$NAMESPACE" create configmap "$ROLLOUT_CONFIGMAP" --from-literal=rollout.json="$state"
}

apply_and_wait() {
    step "Apply $OVERLAY as the ApplySet $APPLYSET"
    run_kubectl apply --server-side --field-manager=sentiment-deploy -f "$RENDER_DIR/namespace.yaml"
    ensure_redis_password
    ensure_rollout_state
    # The ApplySet records what it applied (kinds and names) and prunes whatever an earlier release applied
    # and this one does not: a switched autoscaler, exposure or Redis leaves nothing behind.
    KUBECTL_APPLYSET=true run_kubectl apply --server-side --field-manager=sentiment-deploy --force-conflicts \
        --namespace "$NAMESPACE" --prune --applyset="$APPLYSET" -f "$RENDER_DIR/objects.yaml"

    step "Wait for the rollout"
    local deployment
    for deployment in triton gateway; do
        if ! run_kubectl -n "$NAMESPACE" rollout status "deployment/$deployment" --timeout="$ROLLOUT_TIMEOUT"; then
            run_kubectl -n "$NAMESPACE" rollout undo deployment/triton
            run_kubectl -n "$NAMESPACE" rollout undo deployment/gateway
            die "deployment/$deployment did not become ready within $ROLLOUT_TIMEOUT; rolled both back"
        fi
    done
}

print_endpoint() {
    step "Endpoint"
    local kind=service
    if [[ "$EXPOSURE" == alb ]]; then kind=ingress; fi
    run_kubectl -n "$NAMESPACE" wait "$kind/gateway" --timeout=5m \
        --for=jsonpath='{.status.loadBalancer.ingress[0].hostname}'
    run_kubectl -n "$NAMESPACE" get "$kind" gateway -o 'jsonpath={.status.loadBalancer.ingress[0].hostname}'
}

deploy() {
    load_settings deploy
    name_release
    check_cluster
    build_gateway
    render
    publish_model
    apply_and_wait
    print_endpoint
    if is_dry_run; then
        printf '\nDry run complete: manifests rendered and validated in %s; nothing was built, pushed or applied.\n' \
            "$RENDER_DIR"
    else
        printf '\nDeployed %s to %s.\n' "$IMAGE_TAG" "$OVERLAY"
    fi
}

# The controller's leftovers of this namespace in this cluster, by name prefix and then by its tags.
leftover_load_balancers() {
    local arns
    arns="$(aws elbv2 describe-load-balancers --region "$AWS_REGION" --output text \
        --query "LoadBalancers[?starts_with(LoadBalancerName, '$LB_NAME_PREFIX')].LoadBalancerArn")"
    [[ -n "${arns//[[:space:]]/}" && "$arns" != None ]] || return 0
    # shellcheck disable=SC2086  # one word per ARN
    aws elbv2 describe-tags --region "$AWS_REGION" --resource-arns $arns --output text \
        --query "TagDescriptions[?Tags[?Key=='elbv2.k8s.aws/cluster' && Value=='$EKS_CLUSTER']] | [?Tags[?starts_with(Key, 'service.k8s.aws/stack') || starts_with(Key, 'ingress.k8s.aws/stack')] | [?starts_with(Value, '$NAMESPACE/')]].ResourceArn"
}

teardown() {
    load_settings teardown
    [[ -n "$EKS_CLUSTER" ]] || die "EKS_CLUSTER is not set: teardown names the cluster it empties"
    step "Delete the namespace $NAMESPACE (cluster $EKS_CLUSTER)"
    # The controller deletes each load balancer through the finalizers on the Service and Ingress.
    run_kubectl delete namespace "$NAMESPACE" --ignore-not-found --wait --timeout=10m
    step "Delete load balancers left behind ($LB_NAME_PREFIX…, tagged with cluster $EKS_CLUSTER)"
    if ! is_dry_run; then
        local arn
        for arn in $(leftover_load_balancers); do
            run aws elbv2 delete-load-balancer --region "$AWS_REGION" --load-balancer-arn "$arn"
        done
        [[ -z "$(leftover_load_balancers)" ]] || die "load balancers still present: $(leftover_load_balancers)"
    fi
    if [[ "$DELETE_RELEASES" == 1 ]]; then
        # Only this overlay's prefix: the other environment's releases and the shared ECR images stay.
        step "Delete the model releases of $OVERLAY"
        run aws s3 rm "${MODEL_S3_URI%/}/$OVERLAY/" --recursive --region "$AWS_REGION"
    fi
    printf '\nTeardown %s.\n' "$(is_dry_run && echo 'dry run complete; nothing was deleted' || echo complete)"
}

# Each gateway pod shows the state in GET /; read once per pod through kubectl exec (the image has Python).
# With API keys on, GET / needs one: SENTIMENT_API_KEY (the client's variable) goes in on stdin, so it never
# appears in a command line in the pod or in the API server's audit log.
readonly READ_GATEWAY_STATE='import sys, urllib.request
key = sys.stdin.read().strip()
request = urllib.request.Request("http://127.0.0.1:8080/", headers={"Authorization": f"Bearer {key}"} if key else {})
print(urllib.request.urlopen(request, timeout=5).read().decode())'
wait_for_gateways() {
    local state="$1" pod deadline
    info "the kubelet projects a ConfigMap change into each pod within its sync period (1 min by default) plus its"
    info "cache's delay, often 60-90 s; each gateway worker re-reads the file within about 1 s of that"
    if is_dry_run; then
        run_kubectl -n "$NAMESPACE" get pods -l app.kubernetes.io/name=gateway -o name
        return
    fi
    deadline=$((SECONDS + 180))
    for pod in $(kubectl_cmd -n "$NAMESPACE" get pods -l app.kubernetes.io/name=gateway -o name); do
        until kubectl_cmd -n "$NAMESPACE" exec -i "$pod" -c gateway -- python -c "$READ_GATEWAY_STATE" \
            <<<"${SENTIMENT_API_KEY:-}" | rollout_py matches --state-json "$state" 2>/dev/null; do
            ((SECONDS < deadline)) || die "$pod does not follow the new state after 180 s (its GET / rollout.error says why)"
            sleep 5
        done
        info "$pod follows it"
    done
}

rollout_verb() {
    local verb="$1" state new patch
    step "Rollout: $verb (ConfigMap $NAMESPACE/$ROLLOUT_CONFIGMAP)"
    state="$(current_rollout_state)" || die "no ConfigMap $ROLLOUT_CONFIGMAP: deploy a release first"
    # The pure transition and its checks (the version shipped by this release, the same labels and inputs).
    new="$(rollout_py plan "$verb" --version "$VERSION" --percent "$PERCENT" <<<"$state")" \
        || die "refused (above); the state is unchanged"
    patch="$(rollout_py plan "$verb" --version "$VERSION" --percent "$PERCENT" --patch <<<"$state" 2>/dev/null)"
    run_kubectl -n "$NAMESPACE" patch configmap "$ROLLOUT_CONFIGMAP" --type merge -p "$patch"
    wait_for_gateways "$new"
}

gate() {
    local state run name phase decision
    step "Gate: Argo Rollouts analysis of the current pair (deploy/rollout-policy.toml, all gateway pods)"
    state="$(current_rollout_state)" || die "no ConfigMap $ROLLOUT_CONFIGMAP: deploy a release first"
    run="$(rollout_py analysis-run --state-json "$state")" || die "nothing to gate (above)"
    if is_dry_run; then
        run_kubectl -n "$NAMESPACE" create -f - -o name <<<"$run"
        return
    fi
    name="$(kubectl_cmd -n "$NAMESPACE" create -f - -o name <<<"$run")"
    info "created $name; waiting for it to finish (up to ${GATE_TIMEOUT_S} s)"
    local deadline=$((SECONDS + GATE_TIMEOUT_S))
    until phase="$(kubectl_cmd -n "$NAMESPACE" get "$name" -o 'jsonpath={.status.phase}')" \
        && [[ "$phase" =~ ^(Successful|Failed|Inconclusive|Error)$ ]]; do
        ((SECONDS < deadline)) || die "$name still ${phase:-pending} after ${GATE_TIMEOUT_S} s"
        sleep 10
    done
    decision="$(kubectl_cmd -n "$NAMESPACE" get "$name" -o json | rollout_py analysis-verdict)"
    info "verdict: $decision ($name: $phase)"
    if [[ "$AUTO" == 1 && "$decision" != hold ]]; then
        rollout_verb "$decision"
    fi
}

case "${1:-deploy}" in
    deploy) deploy ;;
    tag)
        load_settings tag >&2
        release_py tag
        ;;
    teardown) teardown ;;
    shadow | canary | promote | rollback)
        load_settings rollout
        rollout_verb "$1"
        ;;
    gate)
        load_settings rollout
        gate
        ;;
    *) die "unknown command '$1' (deploy, tag, teardown, shadow, canary, promote, rollback or gate)" ;;
esac
