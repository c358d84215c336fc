"""Register: the gate on test (once), the MLflow registry, aliases, lineage (stage ``register``)."""
