# syntax=docker/dockerfile:1.7
# Gateway image: FastAPI + tokenizer, no model weights (Triton serves those).
# Build from the repository root (deploy.sh does):
#   docker build -f deploy/eks/docker/gateway.Dockerfile \
#     --build-arg MODEL_REPOSITORY=model_repository --build-arg MODEL_NAME=sentiment \
#     -t sentiment-gateway:<tag> .
# gateway.Dockerfile.dockerignore keeps the context to the gateway package and the tokenizer/metadata files.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY deploy/eks/docker/gateway-requirements.txt /tmp/gateway-requirements.txt
# Wheels only: a dependency that would need a compiler fails the build instead of pulling one in.
RUN /opt/venv/bin/pip install --only-binary=:all: -r /tmp/gateway-requirements.txt \
    && /opt/venv/bin/pip uninstall --yes pip setuptools \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM ${PYTHON_IMAGE} AS runtime
# Every exported version's tokenizer and serving_metadata.json is baked in (Triton serves the same versions from
# the release's S3 prefix), so the rollout state (ConfigMap gateway-rollout) can name any of them as champion or
# challenger without a new image. The weights stay out (gateway.Dockerfile.dockerignore).
ARG MODEL_REPOSITORY=model_repository
ARG MODEL_NAME=sentiment
LABEL org.opencontainers.image.title="sentiment-gateway" \
      org.opencontainers.image.description="FastAPI gateway in front of Triton for the sentiment model"
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin gateway
COPY --from=builder /opt/venv /opt/venv
# Whole packages, never single files: the gateway and the contract it reads the export's files with
# (standard library and numpy only). The gateway never imports export/ (make lint's import contracts).
COPY contract/ /app/contract/
COPY gateway/ /app/gateway/
# The model folder whole: the build context holds only each version's serving_metadata.json, reference_profile.json
# (when the export wrote one) and tokenizer/, so that is what arrives, for every version.
COPY ${MODEL_REPOSITORY}/${MODEL_NAME}/ /srv/model_repository/${MODEL_NAME}/
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_MODEL_NAME=${MODEL_NAME} \
    GATEWAY_MODEL_REPOSITORY=/srv/model_repository \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus-multiproc
WORKDIR /app
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["python", "-m", "gateway"]
