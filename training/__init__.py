"""Training layer: LightGBM models per action, baselines, evaluation and MLflow tracking."""

__all__: list[str] = []
