"""Sparse outcomes: targets with nothing to learn from, and why a split found too few campaigns.

LightGBM's count objectives (Poisson, Tweedie) stop with an error when every
training label is zero, so such a target is skipped with a warning instead of
ending the run. When a split finds too few campaigns, the usual reasons are a
target column left empty or placements whose attribution window is still open;
`too_few_reason` says which, with the numbers a user can act on.
"""

from __future__ import annotations

import pandas as pd

from training.errors import TrainingError

__all__ = ["WARNING", "kept_targets", "skip_message", "too_few_reason"]

WARNING = "warning: "
"""Progress messages starting with this are warnings the CLI prints and keeps."""


def skip_message(target: str, rows: int) -> str:
    """The warning for a target skipped because its `rows` training labels are all zero."""
    return (
        f"{WARNING}{target} is skipped: all {rows} of its training placements have "
        f"{target} 0, which LightGBM cannot fit; it is left out of the model and its metrics"
    )


def kept_targets(labels: pd.DataFrame, targets: list[str]) -> tuple[list[str], list[str]]:
    """The targets that can be fitted, and a warning (`skip_message`) for each one that cannot.

    Takes the label columns of the rows the boosters are first fitted on and the
    targets asked for; a target whose labels there are all zero is skipped. Raises
    TrainingError in one sentence when every target would be skipped.
    """
    skipped = [t for t in targets if not (labels[t].fillna(0.0) > 0).any()]
    kept = [t for t in targets if t not in skipped]
    if not kept:
        raise TrainingError(
            f"Every target asked for ({', '.join(targets)}) is 0 on all {len(labels)} training "
            "placements, so there is nothing to learn; check that the outcome columns were "
            "exported, or train on other --targets."
        )
    return kept, [skip_message(t, len(labels)) for t in skipped]


def too_few_reason(
    placements: pd.DataFrame,
    targets: list[str],
    window_days: int,
    as_of: pd.Timestamp | None,
    moment: str = "the moment the data stands at",
) -> str:
    """Why few placements have usable outcomes: an empty target column, or open windows.

    Takes the placements, the target columns, the attribution window, the moment by
    which windows must have closed (None: every window counts as closed) and what that
    moment is, in words (the data's last day, or a fit's cut-off). Returns a sentence
    fragment starting with a lower-case letter, or "" when neither applies.
    """
    empty = [t for t in targets if placements[t].isna().all()]
    if empty:
        names = ", ".join(empty)
        return (
            f"the {names} column{'s are' if len(empty) > 1 else ' is'} empty on every placement "
            f"(train on other --targets)"
        )
    if as_of is None:
        return ""
    done = placements.dropna(subset=targets)
    done = done[done["posted_at"] < as_of]  # a later placement is not in its window yet
    closes = done["posted_at"] + pd.Timedelta(days=window_days)
    still_open = closes[closes > as_of]
    if still_open.empty:
        return ""
    n = len(still_open)
    return (
        f"{n} placement{'s' if n != 1 else ''} with outcomes {'are' if n != 1 else 'is'} "
        f"still inside {'their' if n != 1 else 'its'} {window_days}-day attribution window at "
        f"{as_of.date()}, {moment} (the first window closes on "
        f"{still_open.min().date()})"
    )
