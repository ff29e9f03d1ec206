"""Response entries built from scored arrays: candidates, portfolios and errors.

Kept apart from the routes so that they stay thin. Everything here reads the
arrays of a `Scored` directly: a /rank over thousands of candidates builds a few
hundred entries, where pandas' per-row access would cost more than the model.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from features.budget import Portfolio
from features.builder import FAMILIES
from serving import schemas
from serving.scoring import Scored
from training.artifacts.bundle import ModelBundle

__all__ = ["candidate_errors", "candidate_scores", "portfolio"]

PARTS = (*FAMILIES, "bias")


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def candidate_scores(
    bundle: ModelBundle,
    scored: Scored,
    rows: npt.NDArray[np.intp],
    explain: int,
    explain_targets: list[str] | None = None,
) -> list[schemas.CandidateScore]:
    """Entries for the scored rows `rows` (positions in `scored`), in that order.

    The first `explain` of them carry LightGBM's contributions per family for
    `explain_targets` (default: every target); the others carry none.
    """
    targets = bundle.targets
    p = {k: v[rows].tolist() for k, v in scored.predictions.items()}
    shown = rows[:explain]
    explained = bundle.contributions_arrays(scored.x[shown], explain_targets) if shown.size else {}
    parts = {t: values.tolist() for t, values in explained.items()}
    index, cost = scored.index[rows].tolist(), scored.cost[rows].tolist()
    estimated = scored.estimated[rows].tolist()
    low, high = scored.cost_low[rows].tolist(), scored.cost_high[rows].tolist()
    out = []
    for k, r in enumerate(rows.tolist()):
        out.append(
            schemas.CandidateScore(
                index=index[k],
                account_id=scored.account_ids[r],
                cost=cost[k],
                cost_estimated=estimated[k],
                cost_low=low[k] if estimated[k] else None,
                cost_high=high[k] if estimated[k] else None,
                outcomes={
                    t: schemas.Estimate(
                        expected=p[t][k], low=p[f"{t}_low"][k], high=p[f"{t}_high"][k]
                    )
                    for t in targets
                },
                roi=_finite(p["roi"][k]) if "roi" in p else None,
                cost_per_action={t: _finite(p[f"cost_per_{t}"][k]) for t in targets},
                followers_baseline={t: p[f"{t}_followers"][k] for t in targets},
                contributions=(
                    {t: dict(zip(PARTS, v[k], strict=True)) for t, v in parts.items()}
                    if k < explain
                    else None
                ),
            )
        )
    return out


def portfolio(scored: Scored, bought: Portfolio) -> schemas.Portfolio:
    """A planned portfolio (`features.budget.plan`) as the API shows it."""
    return schemas.Portfolio(
        account_ids=[a for a, m in zip(scored.account_ids, bought.mask, strict=True) if m],
        indices=scored.index[bought.mask].tolist(),
        cost=bought.cost,
        totals={
            t: schemas.Estimate(expected=e, low=lo, high=hi)
            for t, (e, lo, hi) in bought.totals.items()
        },
        roi=bought.roi,
    )


def candidate_errors(scored: Scored) -> list[schemas.CandidateError]:
    """The candidates that could not be scored, with their reasons."""
    return [
        schemas.CandidateError(index=e.index, account_id=e.account_id, error=e.error)
        for e in scored.errors
    ]
