"""The `/predict` use case: candidates in, each one's expected outcomes and why out."""

from __future__ import annotations

import uuid

import numpy as np

from serving import schemas
from serving.responses import candidate_errors, candidate_scores
from serving.scoring import candidates_from, score
from serving.settings import ServingSettings
from serving.state import ServiceState

__all__ = ["predict"]


def predict(
    body: schemas.PredictRequest, state: ServiceState, settings: ServingSettings
) -> schemas.PredictResponse:
    """Score every candidate of `body` with the state's model; list the ones that cannot be.

    Each scored candidate carries its expected outcomes with intervals, ROI, cost per
    action, the followers baseline and LightGBM's contributions per feature family.
    """
    candidates = candidates_from(body.candidates)
    scored = score(state, body.campaign.model_dump(), candidates, settings.max_history_posts)
    rows = np.arange(len(scored), dtype=np.intp)
    return schemas.PredictResponse(
        request_id=uuid.uuid4().hex,
        model_version=state.version,
        scores=candidate_scores(state.bundle, scored, rows, explain=len(scored)),
        errors=candidate_errors(scored),
    )
