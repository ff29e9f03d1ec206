"""The ASGI entry point for uvicorn (`serving.main:app`); settings come from the environment.

Building the app loads nothing: the model and the histories load in its lifespan.
"""

from serving.app import create_app

app = create_app()
