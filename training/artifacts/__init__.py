"""What a training run leaves: the model bundle as plain files, the MLflow pyfunc, the registry."""
