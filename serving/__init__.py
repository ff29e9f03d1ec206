"""Serving layer: the FastAPI service and the `influence` command line."""

__all__: list[str] = []
