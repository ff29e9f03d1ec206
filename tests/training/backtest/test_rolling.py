"""Rolling origins: a backtest that cannot run says which flags would make it run."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from features.io import load_dataset
from training.backtest.rolling import BacktestConfig, rolling_origins
from training.errors import TrainingError

CONTRACT_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "contract"


@pytest.fixture(scope="module")
def placements(trainable_world: Path) -> pd.DataFrame:
    """The session's trainable world's placements (20 campaigns)."""
    return load_dataset(trainable_world).placements


def _suggested(message: str) -> BacktestConfig:
    """The configuration the message's "Pass --folds K --holdout-share S" names."""
    found = re.search(r"Pass (?:--folds (\d+) )?--holdout-share ([\d.]+): ", message)
    assert found, message
    return BacktestConfig(folds=int(found[1] or 4), holdout_share=float(found[2]))


def test_an_origin_too_early_names_a_holdout_share_that_works(placements: pd.DataFrame) -> None:
    with pytest.raises(TrainingError, match=r"^The backtest origin") as caught:
        rolling_origins(placements, BacktestConfig(holdout_share=0.95))
    message = str(caught.value)
    assert message.endswith(" in 4 folds.")
    suggested = _suggested(message)
    assert suggested.folds == 4
    assert len(rolling_origins(placements, suggested)) == 4
    # The largest block that works: one more held-out campaign would not.
    held = round(placements["campaign_id"].nunique() * suggested.holdout_share)
    with pytest.raises(TrainingError, match=r"^The backtest origin"):
        rolling_origins(placements, BacktestConfig(holdout_share=(held + 1) / 20))


def test_too_few_campaigns_for_the_folds_names_fewer_folds_that_work(
    placements: pd.DataFrame,
) -> None:
    firsts = placements.groupby("campaign_id")["posted_at"].min().sort_values()
    early = placements[placements["campaign_id"].isin(firsts.index[:8])]
    with pytest.raises(TrainingError, match=r"^The backtest origin") as caught:
        rolling_origins(early, BacktestConfig())
    assert str(caught.value).endswith(": 1 held-out campaign, in 1 fold.")
    suggested = _suggested(str(caught.value))
    assert suggested.folds < 4
    assert len(rolling_origins(early, suggested)) == suggested.folds


def test_campaigns_no_flag_can_help_ask_for_earlier_ones() -> None:
    placements = load_dataset(CONTRACT_EXAMPLE).placements
    with pytest.raises(TrainingError, match=r"^A backtest with 4 folds") as caught:
        rolling_origins(placements, BacktestConfig())
    assert str(caught.value) == (
        "A backtest with 4 folds needs at least 4 held-out campaigns with outcomes; 2 campaigns "
        "with a held-out share of 0.5 give 1. Add earlier campaigns: a backtest needs at least "
        "4 whose 30-day attribution window closed before the first held-out campaign began, and "
        "one held-out campaign per fold (or pass a shorter --window if outcomes are complete "
        "sooner)."
    )
