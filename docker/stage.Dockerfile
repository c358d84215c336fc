# syntax=docker/dockerfile:1
# Stage image: the `dapt` CLI, DVC and the project code, run by Kubernetes pods / Kubeflow steps.
#   CPU : docker build -f docker/stage.Dockerfile --target cpu  -t REGISTRY/dapt/stage:VERSION-cpu .
#   CUDA: docker build -f docker/stage.Dockerfile --target cuda -t REGISTRY/dapt/stage:VERSION-cuda .
# The CUDA target takes torch's default PyPI wheel, which bundles the CUDA runtime; the node only
# needs the NVIDIA driver and container toolkit. No credentials are baked in: the DVC remote's
# come from a Kubernetes Secret at run time (orchestration.kubernetes.env_from_secret).

FROM python:3.11.7-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DVC_NO_ANALYTICS=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    HF_HUB_OFFLINE=1
RUN groupadd --gid 10001 dapt && useradd --uid 10001 --gid dapt --create-home dapt
WORKDIR /opt/dapt
COPY requirements.lock pyproject.toml ./

FROM base AS cpu
RUN pip install --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple \
        -r requirements.lock
COPY --chown=dapt:dapt . .
RUN pip install --no-deps --no-build-isolation -e . \
    && dvc config --local core.no_scm true \
    && chown -R dapt:dapt /opt/dapt
USER 10001:10001
ENTRYPOINT ["python", "-m", "components.orchestration.podrun"]

FROM base AS cuda
RUN sed -i 's/^torch==\([0-9.]*\)+cpu$/torch==\1/' requirements.lock \
    && pip install -r requirements.lock
COPY --chown=dapt:dapt . .
RUN pip install --no-deps --no-build-isolation -e . \
    && dvc config --local core.no_scm true \
    && chown -R dapt:dapt /opt/dapt
USER 10001:10001
ENTRYPOINT ["python", "-m", "components.orchestration.podrun"]
