"""Fixtures of the experiment tests: a small experiment whose numbers are worked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest


@pytest.fixture
def hand() -> pd.DataFrame:
    """Placements as (campaign_id, arm, cost, clicks); NaN clicks is a planned placement.

    followers: campaign ratios 1, 2, 3; model: 2, 4, 6, 8 clicks per unit cost.
    """
    rows = [
        ("f1", "followers", 10.0, 10.0),
        ("f2", "followers", 10.0, 20.0),
        ("f3", "followers", 5.0, 5.0),
        ("f3", "followers", 15.0, 55.0),
        ("m1", "model", 10.0, 20.0),
        ("m2", "model", 10.0, 40.0),
        ("m3", "model", 10.0, 60.0),
        ("m4", "model", 10.0, 80.0),
        ("m4", "model", 10.0, math.nan),  # planned: left out, counted
        ("x1", None, 10.0, 99.0),  # not in the experiment: left out, counted
    ]
    return pd.DataFrame(rows, columns=["campaign_id", "arm", "cost", "clicks"])
