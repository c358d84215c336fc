import os
import tempfile

# Airflow binds its home at first import: keep it out of ~/airflow and the project.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
