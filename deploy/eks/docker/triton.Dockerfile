# syntax=docker/dockerfile:1.7
# Triton image for MODEL_SOURCE=image (the default): the official release, unchanged, with the model
# repository baked in at /models, so one immutable tag carries server and model together.
# Build from the repository root (deploy.sh does):
#   docker build -f deploy/eks/docker/triton.Dockerfile --build-arg MODEL_VERSION=1 -t sentiment-triton:<tag> .
# Only the GPU configuration is copied: config.pbtxt (onnxruntime backend), labels.txt and the ONNX model.
FROM nvcr.io/nvidia/tritonserver:24.10-py3
ARG MODEL_REPOSITORY=model_repository
ARG MODEL_NAME=sentiment
ARG MODEL_VERSION=1
LABEL org.opencontainers.image.title="sentiment-triton" \
      org.opencontainers.image.description="NVIDIA Triton 24.10 with the sentiment model repository"
COPY ${MODEL_REPOSITORY}/${MODEL_NAME}/config.pbtxt ${MODEL_REPOSITORY}/${MODEL_NAME}/labels.txt \
     /models/${MODEL_NAME}/
# model.onnx* also takes an external-data file (model.onnx_data) when the export wrote one.
COPY ${MODEL_REPOSITORY}/${MODEL_NAME}/${MODEL_VERSION}/model.onnx* /models/${MODEL_NAME}/${MODEL_VERSION}/
# Any non-root uid works: the files above are world-readable; the Deployment runs it as 10001 as well.
USER 10001:10001
EXPOSE 8000 8001 8002
# The base image's ENTRYPOINT (NGC's nvidia_entrypoint.sh: driver checks, environment) stays; it runs this
# command. For `docker run`; on EKS the Deployment's args replace it (the model repository comes from the
# triton-config ConfigMap there).
CMD ["tritonserver", "--model-repository=/models", "--model-control-mode=explicit", "--load-model=sentiment", \
     "--strict-readiness=true", "--exit-on-error=true"]
