"""Split placements by time: earlier campaigns train, later campaigns validate.

Never a random split: a model is used on campaigns that have not happened yet, so
it is judged on campaigns later than everything it learned from. Campaigns are
ordered by their first placement; the latest `validation_share` of them validate.
The cutoff is the first validation placement's `posted_at`; a training placement
counts only if its attribution window had closed by then, because its outcome
would not have been known at the cutoff either.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from training.errors import TrainingError
from training.learners.sparse import too_few_reason

__all__ = ["TimeSplit", "time_split"]

MIN_CAMPAIGNS = 4


@dataclass(frozen=True)
class TimeSplit:
    """Which placements train and which validate, and the moment between them."""

    train: pd.DataFrame
    valid: pd.DataFrame
    cutoff: pd.Timestamp

    def describe(self) -> dict[str, object]:
        """Sizes and dates, for MLflow parameters and the CLI."""
        return {
            "train_placements": len(self.train),
            "train_campaigns": self.train["campaign_id"].nunique(),
            "valid_placements": len(self.valid),
            "valid_campaigns": self.valid["campaign_id"].nunique(),
            "cutoff": self.cutoff.isoformat(),
        }


def time_split(
    placements: pd.DataFrame,
    targets: list[str],
    validation_share: float,
    window_days: int,
    as_of: pd.Timestamp | None = None,
) -> TimeSplit:
    """Split placements with outcomes for `targets` into earlier and later campaigns.

    Takes the placements table, the outcome columns that must be present, the share
    of campaigns to validate on (0 < share < 1), the attribution window and, when
    given, the moment the data stands at: a placement whose window was still open
    then has an outcome still accruing, so it is left out of both folds. Returns
    the two frames and the cutoff. Raises TrainingError when there are too few
    campaigns with outcomes to split.
    """
    done = placements.dropna(subset=targets)
    if as_of is not None:
        done = done[done["posted_at"] + pd.Timedelta(days=window_days) <= as_of]
    firsts = done.groupby("campaign_id")["posted_at"].min().sort_values(kind="stable")
    if len(firsts) < MIN_CAMPAIGNS:
        reason = too_few_reason(placements, targets, window_days, as_of)
        raise TrainingError(
            f"Training needs past placements with outcomes ({', '.join(targets)}) in at least "
            f"{MIN_CAMPAIGNS} campaigns, to learn from earlier ones and check on later ones; "
            f"found {len(firsts)}"
            + (f", because {reason}." if reason else ". Add past campaigns with their outcomes.")
        )
    n_valid = min(max(1, round(len(firsts) * validation_share)), len(firsts) - 1)
    valid_ids = set(firsts.index[-n_valid:])
    valid = done[done["campaign_id"].isin(valid_ids)]
    cutoff = valid["posted_at"].min()
    window = pd.Timedelta(days=window_days)
    earlier = done[~done["campaign_id"].isin(valid_ids)]
    train = earlier[earlier["posted_at"] + window <= cutoff]
    if train["campaign_id"].nunique() < 2:
        raise TrainingError(
            f"Only {train['campaign_id'].nunique()} campaign ended its {window_days}-day "
            "attribution window before the validation campaigns began; training needs at "
            "least 2. Add earlier campaigns or shorten --window."
        )
    return TimeSplit(train=train, valid=valid, cutoff=cutoff)
