"""`influence compare`: a thin command over `training.backtest.compare` (the backtest report)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from serving.cli.console import progress, say, stderr, stdout
from serving.cli.options import (
    BACKTEST,
    BACKTEST_TARGETS,
    BudgetShare,
    ColumnsFile,
    Currency,
    DataDir,
    DayFirst,
    Project,
    Seed,
    Targets,
    Window,
    read_of,
    settings_of,
    targets_of,
)
from serving.cli.tables import estimate, result_table, show
from training.config import BacktestConfig

if TYPE_CHECKING:
    from training.backtest.compare import CompareResult

__all__ = ["app", "compare", "print_compare_result"]

app = typer.Typer()


def print_compare_result(result: CompareResult, console: Console, experiment: str) -> None:
    """Print each target's key table of a `CompareResult` (within 80 columns), then where
    the report went, the MLflow `experiment` of its run; costs in the result's words
    (`result.unit`)."""
    from training.evaluation.policies import POLICIES, POLICY_LABELS, one_action

    c, unit = result.comparison, result.unit
    for target in dict.fromkeys(c.table["target"]):
        title = (
            f"{target} {unit.per()} on {result.campaigns} held-out campaigns "
            f"({len(result.folds)} rolling origins), 95% campaign-bootstrap intervals below "
            "each value:"
        )
        table = result_table(
            "policy",
            f"{target}\n{unit.per()}",
            f"{unit.currency or 'cost'} per\n{one_action(target)}",
            "times the\nfollower rule",
        )
        for policy in POLICIES:
            rate = c.value(target, policy, "actions_per_cost")
            if rate[0] == rate[0]:  # not NaN: the policy ran (truth needs truth.parquet)
                times = c.value(target, policy, "times_follower_rule")
                table.add_row(
                    CLI_LABELS.get(policy, POLICY_LABELS[policy]),
                    estimate(rate),
                    estimate(c.value(target, policy, "cost_per_action")),
                    "" if policy == "follower_rule" else estimate(times),
                )
        model = c.value(target, "model", "times_follower_rule")
        note = (
            f"The model bought {model[0]:.3g} times the {target} {unit.per()} of the "
            f"follower-count rule (95% interval {model[1]:.3g} to {model[2]:.3g})."
        )
        show(console, title, table, note)
    say(
        console,
        f"Report: {result.files.html} (numbers in {result.files.json.name} and "
        f"{result.files.csv.name} beside it); MLflow run {result.run_id} in experiment "
        f"{experiment}; {result.seconds:.0f} s.",
    )


CLI_LABELS = {"follower_rule": "follower rule (biggest first)"}
"""Shorter than the report's labels where a table must fit 80 columns."""


@app.command()
def compare(
    data_dir: DataDir,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for report.html, report.json, report.csv.")
    ],
    budget_share: BudgetShare = BACKTEST.budget_share,
    folds: Annotated[
        int, typer.Option(help="Rolling origins (blocks of later campaigns).")
    ] = BACKTEST.folds,
    holdout_share: Annotated[
        float, typer.Option(help="Share of the latest campaigns predicted by the folds.")
    ] = BACKTEST.holdout_share,
    targets: Targets = BACKTEST_TARGETS,
    seed: Seed = BACKTEST.seed,
    window: Window = BACKTEST.window_days,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    currency: Currency = None,
    project: Project = None,
) -> None:
    """Backtest the model against follower-count baselines; write an HTML report.

    At each of several origins in time, refits features and models on what was known
    then and predicts the next campaigns. On every held-out campaign each policy (the
    model, the followers baseline, the engagement heuristic, biggest accounts first,
    random, and the truth when truth.parquet exists) spends the same budget; the report
    compares what they bought with paired 95% campaign-bootstrap intervals, and is also
    logged to MLflow (experiment influence-compare, or influence-NAME-compare for
    --project NAME).
    """
    from training.backtest.compare import run_compare
    from training.tracking.store import use_tracking

    config = BacktestConfig(
        targets=targets_of(targets),
        folds=folds,
        holdout_share=holdout_share,
        seed=seed,
        window_days=window,
        budget_share=budget_share,
    )
    config.check()  # a refused flag is one sentence, before any progress line
    read = read_of(columns, dayfirst)
    settings = settings_of(currency, project)
    experiment = settings.experiment_name("compare")
    tracking = use_tracking(settings, experiment=experiment)
    say(stderr(), settings.describe(), soft_wrap=True)
    with progress(stderr(), "Backtesting") as step:
        result = run_compare(
            data_dir,
            out_dir,
            config,
            settings,
            progress=step,
            tracking=tracking,
            read=read,
        )
    print_compare_result(result, stdout(), experiment)
    say(stdout(), tracking.run_page(result.run_id))
