"""The model MLflow logs as code: running this file defines the influence pyfunc.

`mlflow.pyfunc.save_model(python_model=<this file>)` (through
`training.tracking.logged_model.log_pyfunc`) stores the file instead of a pickled
object, and MLflow runs it on load; `InfluencePyfunc.load_context` then reads
the bundle folder artifact with the checked loader.
"""

from mlflow.models import set_model

from training.artifacts.pyfunc import InfluencePyfunc

set_model(InfluencePyfunc())
