"""The Hillstrom e-mail experiment, analysed: the published arm means and lifts."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.errors import TrainingError
from training.experiments.analysis import ExperimentResult, analyse_experiment
from training.experiments.hillstrom import CONTROL, OUTCOMES, UNIT, read_hillstrom

HILLSTROM = Path(__file__).resolve().parents[4] / "shared" / "data" / "hillstrom" / "hillstrom.csv"


@pytest.fixture(scope="module")
def hillstrom() -> ExperimentResult:
    if not HILLSTROM.is_file():
        pytest.skip(f"{HILLSTROM} is absent")
    return analyse_experiment(
        read_hillstrom(HILLSTROM), unit=UNIT, outcomes=OUTCOMES, control=CONTROL
    )


def test_hillstrom_reproduces_the_published_arm_means(hillstrom: ExperimentResult) -> None:
    means = {m.metric: {a.arm: a.mean for a in m.arms} for m in hillstrom.metrics}
    published = {
        "visit": (0.1828, 0.1514, 0.1062, 1e-4),
        "conversion": (0.0125, 0.0088, 0.0057, 1e-4),
        "spend": (1.42, 1.08, 0.65, 0.005),
    }
    for metric, (mens, womens, none, tol) in published.items():
        assert means[metric] == {
            "Mens E-Mail": pytest.approx(mens, abs=tol),
            "No E-Mail": pytest.approx(none, abs=tol),
            "Womens E-Mail": pytest.approx(womens, abs=tol),
        }
    counts = {"Mens E-Mail": 21_307, "No E-Mail": 21_306, "Womens E-Mail": 21_387}
    assert hillstrom.sample_ratio.counts == counts
    assert not hillstrom.sample_ratio.mismatch


def test_hillstrom_both_e_mails_lift_visits(hillstrom: ExperimentResult) -> None:
    visit = next(m for m in hillstrom.metrics if m.metric == "visit")
    lifts = {d.arm: d for d in visit.differences}
    assert sorted(lifts) == ["Mens E-Mail", "Womens E-Mail"]
    for d in lifts.values():
        assert d.p_value < 1e-6
        assert d.welch_low > 0
        assert d.bootstrap_low > 0
    assert lifts["Mens E-Mail"].lift == pytest.approx(0.721, abs=1e-3)
    assert lifts["Womens E-Mail"].lift == pytest.approx(0.426, abs=1e-3)


def test_hillstrom_adapter_names_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "hillstrom.csv"
    path.write_text("segment,visit\nNo E-Mail,0\n")
    with pytest.raises(TrainingError, match=r"^hillstrom\.csv lacks ") as caught:
        read_hillstrom(path)
    assert str(caught.value) == (
        "hillstrom.csv lacks the columns conversion, spend; expected the MineThatData columns "
        "segment, visit, conversion, spend."
    )
