"""Orchestration generated from dvc.yaml: Airflow DAGs, Kubernetes pod specs, a Kubeflow pipeline.

Modules here import only the standard library and PyYAML at import time; Airflow, DVC, the
Kubernetes provider and kfp are imported inside the functions that need them, so DAG files stay
fast to parse.
"""
