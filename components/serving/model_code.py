"""MLflow models-from-code entry point of a registered classifier.

MLflow executes this file when it loads the model, with the model's ``code/`` folder (a copy of
components/serving as the package ``dapt_serving``) on ``sys.path``: the model is plain source
plus safetensors, never a pickle. Not imported by the project.
"""

from dapt_serving.pyfunc import TextClassifier
from mlflow.models import set_model

set_model(TextClassifier())
