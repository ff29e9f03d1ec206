"""Planning an experiment: units per arm against hand values, the baseline from past campaigns."""

from __future__ import annotations

import pandas as pd
import pytest

from training.errors import TrainingError
from training.experiments.planning import baseline, sample_size


def test_sample_size_against_hand_values() -> None:
    # 2 (1.959964 + 0.841621)^2 / 0.2^2 = 392.44: the textbook 393 per arm for d = 0.2.
    assert sample_size(0.2, 1.0, 1.0) == 393
    # 2 (1.959964 + 1.281552)^2 (0.04 / 0.005)^2 = 1344.95.
    assert sample_size(0.1, 0.05, 0.04, alpha=0.05, power=0.9) == 1345
    with pytest.raises(TrainingError, match=r"^The lift and the baseline mean must be non-zero "):
        sample_size(0.0, 1.0, 1.0)
    with pytest.raises(TrainingError, match=r"^alpha must be between 0 and 1, got 1\.5\.$"):
        sample_size(0.2, 1.0, 1.0, alpha=1.5)
    with pytest.raises(TrainingError, match=r"^power must be between 0 and 1, got 0\.0\.$"):
        sample_size(0.2, 1.0, 1.0, power=0.0)


def test_baseline_from_past_campaigns(hand: pd.DataFrame) -> None:
    assert baseline(hand[hand["arm"] == "followers"], "clicks") == (2.0, 1.0, 3)
