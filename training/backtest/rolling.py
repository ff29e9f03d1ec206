"""Rolling-origin backtest: refit at several moments in time, predict the campaigns that came next.

Campaigns with outcomes are ordered by their first placement (as `training.evaluation.split`
does). The latest `holdout_share` of them (half by default) are held out and cut,
in that order, into `folds` blocks (4 by default). Fold k's origin is the first
placement of its block; at that origin everything is refitted from scratch on what
was known then, by `training.fitting.fit(data, until=origin)`, the fit `influence train`
uses: the `FeatureBuilder` state, one LightGBM model per target and the followers
baseline on the placements whose attribution window had closed by the origin, their
number of rounds by early stopping on the latest 20% of those campaigns (which reuses
the fold's feature state, so it can only tune the rounds, never touch held-out rows),
and the engagement heuristic's scale.

The fold's models then predict its block's campaigns. Blocks never overlap, so every
held-out campaign is predicted exactly once, by models that saw nothing of it; the
pooled predictions are what `training.evaluation.policies` compares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from features.io import Dataset
from training.config import BacktestConfig, TrainConfig
from training.errors import TrainingError
from training.evaluation.holdout import policy_predictions
from training.fitting import fit
from training.learners.importance import importance_table
from training.learners.sparse import too_few_reason

__all__ = ["Backtest", "BacktestConfig", "Fold", "rolling_origins", "run_backtest"]

MIN_TRAIN_CAMPAIGNS = 4

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fold:
    """One origin: when it was, what it learned from, what it predicted."""

    index: int
    origin: pd.Timestamp
    train_campaigns: int
    train_placements: int
    campaigns: int
    placements: int
    rounds: dict[str, int]
    """Boosting rounds of the model per target, chosen by early stopping."""

    def describe(self) -> dict[str, object]:
        """Plain data for JSON and the report."""
        return {
            "fold": self.index,
            "origin": self.origin.isoformat(),
            "train_campaigns": self.train_campaigns,
            "train_placements": self.train_placements,
            "campaigns": self.campaigns,
            "placements": self.placements,
            "rounds": dict(self.rounds),
        }


@dataclass
class Backtest:
    """The pooled held-out predictions of every fold.

    `frame` has one row per held-out placement: `placement_id`, `campaign_id`, `fold`,
    `cost`, `followers` (displayed followers before the placement) and the realised
    targets. `predictions[target][policy]` is aligned with it (policies model,
    followers, heuristic); `truth` holds the expected targets when the data is
    simulated. `importance` is the model's gain share per feature, averaged over folds.
    """

    frame: pd.DataFrame
    predictions: dict[str, dict[str, Floats]]
    truth: pd.DataFrame | None
    folds: list[Fold]
    importance: pd.DataFrame = field(repr=False)


def rolling_origins(
    placements: pd.DataFrame, config: BacktestConfig
) -> list[tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame]]:
    """Each fold's origin, training placements and held-out placements, in time order.

    Raises TrainingError when the held-out blocks would be empty or the first origin
    leaves fewer than 4 training campaigns with a closed attribution window.
    """
    done = placements.dropna(subset=list(config.targets))
    firsts = done.groupby("campaign_id")["posted_at"].min().sort_values(kind="stable")
    window = pd.Timedelta(days=config.window_days)
    n_held = round(len(firsts) * config.holdout_share)
    if n_held < config.folds:
        reason = too_few_reason(placements, list(config.targets), config.window_days, None)
        raise TrainingError(
            f"A backtest with {config.folds} folds needs at least {config.folds} held-out "
            f"campaigns with outcomes; {len(firsts)} campaigns with a held-out share of "
            f"{config.holdout_share:g} give {n_held}"
            + (
                f", because {reason}."
                if reason
                else "." + _remedy(firsts, done, window, config.folds)
            )
        )
    folds = []
    for block in np.array_split(np.asarray(firsts.index[len(firsts) - n_held :]), config.folds):
        origin = firsts[block[0]]
        train = _closed_by(done, window, origin)
        if train["campaign_id"].nunique() < MIN_TRAIN_CAMPAIGNS:
            raise TrainingError(
                f"The backtest origin {origin.date()} has only "
                f"{train['campaign_id'].nunique()} earlier campaigns whose "
                f"{config.window_days}-day attribution window had closed; each fold needs at "
                f"least {MIN_TRAIN_CAMPAIGNS}." + _remedy(firsts, done, window, config.folds)
            )
        folds.append((origin, train, done[done["campaign_id"].isin(block)]))
    return folds


def _closed_by(done: pd.DataFrame, window: pd.Timedelta, origin: pd.Timestamp) -> pd.DataFrame:
    """The placements whose attribution window had closed by `origin`: what a fold learns from."""
    return done[done["posted_at"] + window <= origin]


def _remedy(firsts: pd.Series, done: pd.DataFrame, window: pd.Timedelta, folds: int) -> str:
    """The flags that would give a workable backtest on these campaigns, as a sentence.

    Tries the given number of folds, then fewer, and for each the largest held-out block
    whose first origin leaves `MIN_TRAIN_CAMPAIGNS` earlier campaigns with closed windows;
    "" would never do, so with none it says what data would help. Only errors call it.
    """
    n = len(firsts)
    for k in range(folds, 0, -1):
        for held in range(n - MIN_TRAIN_CAMPAIGNS, k - 1, -1):
            closed = _closed_by(done, window, firsts.iloc[n - held])["campaign_id"].nunique()
            if closed < MIN_TRAIN_CAMPAIGNS:
                continue
            share = next(
                round(held / n, d) for d in (2, 3, 4, 6) if round(n * round(held / n, d)) == held
            )
            flags = ("" if k == folds else f"--folds {k} ") + f"--holdout-share {share:g}"
            campaigns = f"{held} held-out campaign{'s' * (held > 1)}"
            return f" Pass {flags}: {campaigns}, in {k} fold{'s' * (k > 1)}."
    return (
        f" Add earlier campaigns: a backtest needs at least {MIN_TRAIN_CAMPAIGNS} whose "
        f"{window.days}-day attribution window closed before the first held-out campaign "
        "began, and one held-out campaign per fold (or pass a shorter --window if outcomes are "
        "complete sooner)."
    )


def run_backtest(
    data: Dataset,
    truth: pd.DataFrame | None,
    config: BacktestConfig,
    progress: Callable[[str], None] = lambda _: None,
) -> Backtest:
    """Refit at every origin and predict its block; return the pooled predictions.

    Takes the validated data, the ground truth (`truth.parquet`, or None), the
    configuration and a callback told what each step is doing.
    """
    config.check()
    targets = list(config.targets_in_order)
    fitting = TrainConfig(
        targets=config.targets,
        seed=config.seed,
        window_days=config.window_days,
        budget_share=config.budget_share,
    )
    origins = rolling_origins(data.placements, config)
    frames: list[pd.DataFrame] = []
    predictions: dict[str, dict[str, list[Floats]]] = {t: {} for t in targets}
    folds: list[Fold] = []
    importance: list[pd.DataFrame] = []
    for k, (origin, train, held) in enumerate(origins, start=1):
        progress(f"Fold {k} of {len(origins)}: refitting as of {origin.date()}")
        bundle = fit(data, fitting, until=origin)
        skipped = [t for t in targets if t not in bundle.models]
        if skipped:
            raise TrainingError(
                f"The backtest fold as of {origin.date()} cannot fit {', '.join(skipped)}: "
                f"every one of its {len(train)} training placements has the value 0. "
                "Compare on other --targets or lower --holdout-share."
            )
        hf = bundle.builder.transform(data, held)
        rounds: dict[str, int] = {}
        for target, model in bundle.models.items():
            for policy, values in policy_predictions(model, hf, held["cost"]).items():
                predictions[target].setdefault(policy, []).append(values)
            rounds[target] = int(model.booster.current_iteration())
        boosters = {t: m.booster for t, m in bundle.models.items()}
        importance.append(importance_table(boosters))
        frames.append(
            pd.DataFrame(
                {
                    "placement_id": held["placement_id"].to_numpy(),
                    "campaign_id": held["campaign_id"].to_numpy(),
                    "fold": k,
                    "cost": held["cost"].to_numpy(dtype=float),
                    "followers": hf["reach_followers"].fillna(0.0).to_numpy(dtype=float),
                    **{t: held[t].to_numpy(dtype=float) for t in targets},
                }
            )
        )
        folds.append(
            Fold(
                index=k,
                origin=origin,
                train_campaigns=int(train["campaign_id"].nunique()),
                train_placements=len(train),
                campaigns=int(held["campaign_id"].nunique()),
                placements=len(held),
                rounds=rounds,
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    pooled = {t: {p: np.concatenate(v) for p, v in by.items()} for t, by in predictions.items()}
    expected = None
    if truth is not None:
        expected = frame[["placement_id"]].merge(truth, on="placement_id", how="left")[targets]
    gain = pd.concat(importance, ignore_index=True)
    mean_gain = (
        gain.groupby(["target", "feature", "family"], sort=False)["gain_share"].mean().reset_index()
    )
    return Backtest(frame, pooled, expected, folds, mean_gain)
