"""The words and numbers of the `/app/model` page, from the served manifest (`/model`'s)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FAMILIES", "model_page"]

FAMILIES = {
    "reach": "followers at the last post, their growth and its bursts",
    "resonance": "engagement rate, comments and shares per like, sponsored against organic",
    "relevance": "how close the account's recent captions are to the campaign's brief",
    "track": "what its earlier placements caused, per unit cost",
}
"""What each feature family is made of, in an analyst's words (Altimeter/Solis)."""


def _g(value: object) -> str:
    return f"{float(value):.3g}" if isinstance(value, int | float) else "–"


def model_page(
    metrics: Mapping[str, Mapping[str, Any]], targets: list[str], price: Any
) -> dict[str, Any]:
    """The page's sentences and table rows, in the model's target order.

    Takes the manifest's `metrics` (per target: the model's, the followers baseline's and
    the heuristic's realised actions per unit cost, the model-over-baseline ratio with its
    95% interval, partial Spearman), the targets and the manifest's `price` (or None).
    """
    sentences, rows = [], []
    for target in targets:
        m = metrics.get(target, {})
        ratio = m.get("ratio_vs_followers") or [None, None, None]
        if ratio[0] is not None:
            sentences.append(
                f"Choosing by the model bought {ratio[0]:.3g} times the {target} per unit cost "
                f"of the followers baseline (95% interval {ratio[1]:.3g} to {ratio[2]:.3g})."
            )
        rows.append(
            {
                "target": target,
                "model": _g(m.get("model")),
                "followers": _g(m.get("followers")),
                "heuristic": _g(m.get("heuristic")),
                "ratio": "–"
                if ratio[0] is None
                else f"{ratio[0]:.3g} [{ratio[1]:.3g}, {ratio[2]:.3g}]",
                "partial": _g(m.get("partial_spearman")),
            }
        )
    words = None
    if price:
        words = (
            f"Estimated prices were off by {price['price/mdape']:.0%} (median) on the later "
            f"placements, a rate per follower's by {price['price/mdape_follower_rate']:.0%}; "
            f"{price['price/coverage']:.0%} of the prices paid fell inside the 90% interval."
        )
    return {"sentences": sentences, "rows": rows, "price": words}
