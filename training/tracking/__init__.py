"""The MLflow store: where runs go, runs a killed process left behind, database URLs."""
