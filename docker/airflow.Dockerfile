# syntax=docker/dockerfile:1
# Airflow 3 with the project's DAGs and stage code, for scheduler, DAG processor and workers
# (LocalExecutor, CeleryExecutor workers, or the KubernetesExecutor's worker pods):
#   docker build -f docker/airflow.Dockerfile -t REGISTRY/dapt/airflow:VERSION .
# Secrets (DVC remote, MLflow server, Kubernetes cluster) go into Airflow connections/variables
# or a secrets backend at deploy time, never into this image or params.yaml.

FROM apache/airflow:3.3.2-python3.11
ENV DVC_NO_ANALYTICS=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DAPT_PROJECT_ROOT=/opt/dapt \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/dapt/dags
USER 0
RUN mkdir -p /opt/dapt && chown airflow:0 /opt/dapt
USER 50000
WORKDIR /opt/dapt
COPY --chown=airflow:0 requirements.lock pyproject.toml ./
# Same pins as the project (including apache-airflow itself), CPU torch for local stages.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu \
        --extra-index-url https://pypi.org/simple -r requirements.lock
COPY --chown=airflow:0 . .
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e .
