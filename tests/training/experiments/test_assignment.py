"""Assigning units to arms: a salted hash, the same for anyone, roughly balanced."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from training.errors import TrainingError
from training.experiments.assignment import assign_arm


def test_assignment_is_a_salted_hash_and_roughly_balanced() -> None:
    expected = ["model", "followers"][int(hashlib.sha256(b"s1c0042").hexdigest(), 16) % 2]
    assert assign_arm("c0042", ["model", "followers"], "s1") == expected
    ids = [f"c{i:05d}" for i in range(10_000)]
    first = [assign_arm(c, ["model", "followers"], "s1") for c in ids]
    assert first == [assign_arm(c, ["model", "followers"], "s1") for c in ids]
    assert 4_800 <= first.count("model") <= 5_200
    other = [assign_arm(c, ["model", "followers"], "s2") for c in ids]
    assert 4_500 <= sum(a != b for a, b in zip(first, other, strict=True)) <= 5_500
    three = pd.Series([assign_arm(c, ["a", "b", "c"], "s1") for c in ids]).value_counts()
    assert three.between(3_133, 3_533).all()
    with pytest.raises(TrainingError, match=r"^Give at least two distinct, non-empty arm names; "):
        assign_arm("c1", ["model", "model"], "s1")
