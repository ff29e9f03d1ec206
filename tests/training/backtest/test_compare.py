"""The rolling-origin backtest and its report, on a simulated world, against a real MLflow store."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from mlflow.tracking import MlflowClient

from features.io import load_dataset
from features.profile import tier_index
from features.simulate import SimulationConfig, simulate_world, write_world
from training.backtest.compare import EXPERIMENT, CompareResult, run_compare
from training.backtest.plots import (
    calibration_figure,
    gains_figure,
    policy_rates_figure,
    tiers_figure,
)
from training.backtest.report import FIGURES, render_html
from training.backtest.rolling import Backtest, BacktestConfig, rolling_origins, run_backtest
from training.errors import TrainingError
from training.evaluation.policies import POLICIES, TIERS
from training.learners.importance import family_importance_figure
from training.settings import TrainingSettings
from training.tracking.story import code_version
from training.units import CostUnit

StoredUnder = Callable[[Path], TrainingSettings]  # the `stored_under` fixture

WORLD = SimulationConfig(accounts=1200, campaigns=45, seed=7)
CONFIG = BacktestConfig(targets=("clicks", "revenue"), folds=3, seed=0)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    write_world(simulate_world(WORLD), root / "world")
    return root


@pytest.fixture(scope="module")
def settings(workspace: Path, stored_under: StoredUnder) -> TrainingSettings:
    return stored_under(workspace)


@pytest.fixture(scope="module")
def result(workspace: Path, settings: TrainingSettings) -> CompareResult:
    return run_compare(workspace / "world", workspace / "report", CONFIG, settings)


def test_model_beats_the_follower_rule_and_the_truth_beats_the_model(
    result: CompareResult,
) -> None:
    c = result.comparison
    for target in CONFIG.targets:
        for other in ("follower_rule", "followers", "heuristic", "random"):
            diff, low, _ = c.value(target, other, "model_minus_policy")
            assert low > 0, (target, other, diff, low)
        model = c.value(target, "model", "actions_per_cost")[0]
        assert c.value(target, "truth", "actions_per_cost")[0] >= model
        assert c.value(target, "model", "partial_spearman")[1] > 0.3
    # On this world (measured): 0.186 clicks per unit cost against 0.050 for biggest first.
    model, rule = (c.value("clicks", p, "actions_per_cost")[0] for p in ("model", "follower_rule"))
    assert model > 2.5 * rule


def test_paired_differences_are_differences_of_the_pooled_rates(result: CompareResult) -> None:
    c = result.comparison
    for target in CONFIG.targets:
        model = c.value(target, "model", "actions_per_cost")[0]
        rule = c.value(target, "follower_rule", "actions_per_cost")[0]
        for policy in POLICIES:
            rate = c.value(target, policy, "actions_per_cost")[0]
            if policy != "model":
                diff = c.value(target, policy, "model_minus_policy")[0]
                assert diff == pytest.approx(model - rate, rel=1e-12)
            if policy != "follower_rule":
                diff = c.value(target, policy, "minus_follower_rule")[0]
                assert diff == pytest.approx(rate - rule, rel=1e-12)


def test_folds_roll_forward_and_learn_only_from_closed_windows(workspace: Path) -> None:
    data = load_dataset(workspace / "world")
    folds = rolling_origins(data.placements, CONFIG)
    assert len(folds) == 3
    origins = [origin for origin, _, _ in folds]
    assert origins == sorted(origins)
    held = [set(h["campaign_id"]) for _, _, h in folds]
    assert sum(len(h) for h in held) == round(WORLD.campaigns * CONFIG.holdout_share) == 22
    assert len(set().union(*held)) == 22
    for origin, train, block in folds:
        assert (train["posted_at"] + pd.Timedelta(days=30) <= origin).all()
        assert block["posted_at"].min() == origin
        assert set(train["campaign_id"]).isdisjoint(block["campaign_id"])


def test_tiers_use_the_usual_cut_offs_and_spend_shares_add_up(result: CompareResult) -> None:
    counts = [9_999, 10_000, 99_999, 100_000, 499_999, 500_000, 999_999, 1_000_000, 5e6]
    names = [TIERS[i][0] for i in tier_index(counts)]
    assert names == ["nano", "micro", "micro", "mid", "mid", "macro", "macro", "mega", "mega"]
    table = result.comparison.table
    shares = table[(table["metric"] == "spend_share") & (table["tier"] != "all")]
    totals = shares.groupby(["target", "policy"])["value"].sum()
    np.testing.assert_allclose(totals.to_numpy(), 1.0, rtol=1e-12)
    # Biggest first spends more of its budget above 100k followers than the model does.
    above = shares[shares["tier"].isin(["mid", "macro", "mega"]) & (shares["target"] == "clicks")]
    by_policy = above.groupby("policy")["value"].sum()
    assert by_policy["follower_rule"] > by_policy["model"]


def test_gain_curves_run_from_nothing_to_everything(result: CompareResult) -> None:
    curves = result.comparison.gains["clicks"]
    for policy in ("model", "follower_rule", "random", "truth"):
        values = curves[policy].to_numpy()
        assert values[0] == 0.0
        assert values[-1] == pytest.approx(1.0)
        assert (np.diff(values) >= -1e-12).all()
    at_30 = curves[curves["budget_share"].round(2) == 0.3].iloc[0]
    assert at_30["truth"] > at_30["model"] > at_30["random"] > at_30["follower_rule"]


def test_report_is_one_self_contained_html_file(result: CompareResult) -> None:
    text = result.files.html.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    sources = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", text)
    assert len(sources) == len(re.findall(r"<img\b", text)) == FIGURES == 5
    for src in sources:
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64"
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Backtest: the model against follower-count baselines" in text


def test_json_holds_the_same_numbers_as_csv(result: CompareResult) -> None:
    payload = json.loads(result.files.json.read_text())
    from_json = pd.DataFrame(payload["table"])
    from_csv = pd.read_csv(result.files.csv)
    assert list(from_csv.columns) == ["target", "policy", "tier", "metric", "value", "low", "high"]
    assert len(from_json) == len(from_csv) == len(result.comparison.table)
    for column in ("target", "policy", "tier", "metric"):
        assert from_json[column].tolist() == from_csv[column].tolist()
    for column in ("value", "low", "high"):
        a = from_json[column].astype(float).to_numpy()
        b = from_csv[column].to_numpy(dtype=float)
        np.testing.assert_array_equal(a, b)  # NaN in CSV is null in JSON; equal as floats
    assert payload["held_out"] == {"campaigns": 22, "placements": 22 * WORLD.candidates}
    assert [f["fold"] for f in payload["folds"]] == [1, 2, 3]
    assert payload["run_id"] == result.run_id


def test_report_files_and_numbers_are_logged_to_mlflow(
    result: CompareResult, settings: TrainingSettings
) -> None:
    client = MlflowClient(settings.tracking_uri())
    run = client.get_run(result.run_id)
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    files = {a.path for a in client.list_artifacts(result.run_id)}
    assert files == {"report.html", "report.json", "report.csv"}
    value = result.comparison.value("clicks", "follower_rule", "model_minus_policy")
    assert run.data.metrics["clicks.follower_rule.model_minus_policy"] == value[0]
    assert run.data.metrics["clicks.follower_rule.model_minus_policy_low"] == value[1]
    assert run.data.params["folds"] == "3"


def test_the_report_says_how_many_times_the_follower_rule_and_the_cost_per_click(
    result: CompareResult,
) -> None:
    c = result.comparison
    times = c.value("clicks", "model", "times_follower_rule")
    model, rule = (c.value("clicks", p, "actions_per_cost")[0] for p in ("model", "follower_rule"))
    assert times[0] == pytest.approx(model / rule)
    per_click = c.value("clicks", "model", "cost_per_action")[0]
    assert per_click == pytest.approx(1 / model)
    text = " ".join(result.files.html.read_text(encoding="utf-8").split())
    assert (
        f"follower-count rule: {times[0]:.3g} times as many (95% interval {times[1]:.3g} to "
        f"{times[2]:.3g}), at {per_click:.3g} of cost per click against "
        f"{c.value('clicks', 'follower_rule', 'cost_per_action')[0]:.3g};"
    ) in text
    assert "<th>cost per click</th><th>times the follower rule</th>" in text


def test_the_run_is_named_tagged_and_described_by_what_it_did(
    result: CompareResult, settings: TrainingSettings, workspace: Path
) -> None:
    run = MlflowClient(settings.tracking_uri()).get_run(result.run_id)
    assert run.info.run_name == "influence compare f401db81"
    package, commit = code_version()
    assert {k: v for k, v in run.data.tags.items() if k.startswith("influence.")} == {
        "influence.project": "influence",
        "influence.command": "compare",
        "influence.data_digest": "f401db81dcebe1a8b5f97cb3c7f8c030f39efcd17779dae196eba5006db5790c",
        "influence.engine": "pandas",
        "influence.targets": "clicks,revenue",
        "influence.code_version": f"{package} (commit {str(commit)[:12]})",
    }
    assert run.data.tags["mlflow.note.content"] == (
        f"Data from `{workspace / 'world'}` (digest f401db81): 2,250 placements of 888 accounts "
        "in 45 campaigns, posted 2025-03-05 to 2025-12-25.\n"
        "\n"
        "Backtest over 3 rolling origins, 95% campaign-bootstrap intervals:\n"
        "\n"
        "- clicks per unit cost 0.185 [0.15, 0.24] against the follower rule's "
        "0.0503 [0.032, 0.078]\n"
        "- revenue per unit cost 0.539 [0.40, 0.71] against the follower rule's "
        "0.127 [0.079, 0.20]"
    )


def test_too_many_folds_is_one_clear_sentence(workspace: Path) -> None:
    data = load_dataset(workspace / "world")
    with pytest.raises(TrainingError, match=r"with 40 folds needs at least 40 held-out campaigns"):
        run_backtest(data, None, BacktestConfig(folds=40))
    with pytest.raises(TrainingError, match=r"has only \d+ earlier campaigns whose 30-day"):
        run_backtest(data, None, BacktestConfig(folds=2, holdout_share=0.95))
    assert math.isfinite(CONFIG.budget_share)


def _covered(fig: Figure) -> list[str]:
    """What a legend of `fig` covers, in display coordinates after the figure's own layout:
    each curve (line, error bar) whose drawn path crosses a legend's box, and each bar
    that overlaps one. Only the part of a legend inside an axes can cover what it draws
    (artists are clipped to their axes)."""
    fig.draw_without_rendering()  # runs the layout: the boxes are those the PNG shows
    legends = [*fig.legends, *(a.get_legend() for a in fig.axes if a.get_legend())]
    covered = []
    for legend in legends:
        box = legend.get_window_extent()
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            inside = Bbox.intersection(box, ax.bbox)
            if inside is None:
                continue
            curves = [
                (line.get_label(), line.get_path(), line.get_transform()) for line in ax.lines
            ]
            curves += [
                (str(c.get_label()), path, c.get_transform())
                for c in ax.collections
                for path in c.get_paths()
            ]
            for label, path, transform in curves:
                if transform.transform_path(path).intersects_bbox(inside, filled=False):
                    covered.append(f"{ax.get_title()}: {label}")
            for bar in ax.patches:
                if bar.get_window_extent().overlaps(inside):
                    covered.append(f"{ax.get_title()}: bar {bar.get_label()}")
    return covered


def test_no_legend_covers_a_curve_or_a_bar(result: CompareResult) -> None:
    c, targets = result.comparison, list(CONFIG.targets)
    figures = {
        "rates": policy_rates_figure(c, targets),
        "gains": gains_figure(c, targets),
        "calibration": calibration_figure(c, targets),
        "importance": family_importance_figure(result.importance),
        "tiers": tiers_figure(c, targets[0]),
    }
    assert len(figures) == FIGURES
    assert sum(len(f.legends) for f in figures.values()) == 4  # all but the rates' bars
    assert {name: _covered(fig) for name, fig in figures.items()} == {n: [] for n in figures}


def test_a_currency_is_text_in_the_report_s_sentences_and_figures(result: CompareResult) -> None:
    # A currency check_currency lets through, with what HTML and matplotlib's mathtext read
    # as syntax ('$$' would be a formula and fail to draw): shown as written, never run.
    unit = CostUnit.of("$$<i>")
    campaigns = pd.DataFrame({"campaign_id": range(result.campaigns)})
    backtest = Backtest(campaigns, {}, None, result.folds, result.importance)
    page = render_html(backtest, result.comparison, CONFIG, {}, unit)
    assert '<p class="note">Realised per $$&lt;i&gt; of what each policy bought' in page
    assert "<i>" not in page
