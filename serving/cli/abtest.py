"""`influence abtest`: analyse a live experiment between selection policies, size one, assign.

`influence abtest DATA_DIR` is short for `influence abtest analyse DATA_DIR`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from features import OUTCOMES, DataContractError, load_dataset
from features.io import atomic_path, read_table_file
from serving.cli.console import progress, say, stderr, stdout
from serving.cli.options import ColumnsFile, DataDir, DayFirst, Seed, read_of
from serving.cli.tables import result_table, show
from training.errors import TrainingError
from training.experiments.analysis import ExperimentResult, analyse_experiment
from training.experiments.assignment import assign_arm
from training.experiments.planning import baseline, sample_size

__all__ = ["ROWS", "analyse", "app", "assign", "plan", "print_analysis"]


class _AnalyseByDefault(TyperGroup):
    """A group whose first argument, when it is not a command, goes to `analyse`."""

    # ctx is click's Context, which newer typer versions vendor: Any keeps both typed.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["analyse", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_AnalyseByDefault,
    no_args_is_help=True,
    help="Analyse a live experiment between selection policies, size one, assign campaigns.\n\n"
    "`influence abtest DATA_DIR` is short for `influence abtest analyse DATA_DIR` "
    "(write ./plan for a data directory called plan).",
)
ROWS = (
    "campaigns",
    "mean per unit cost",
    "difference vs control",
    "Welch 95% CI",
    "bootstrap 95% CI",
    "p-value",
    "lift %",
)
"""The analysis table's rows, one column per arm: `MetricResult.rows()` after the arm's name."""


def _weights(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        return {k.strip(): float(v) for k, v in (part.split("=") for part in text.split(","))}
    except ValueError as e:
        raise typer.BadParameter(
            "expected ARM=WEIGHT,... such as model=1,followers=1", param_hint="--split"
        ) from e


@app.command("analyse")
def analyse(
    data_dir: DataDir,
    control: Annotated[
        str | None, typer.Option(help="Control arm (default: followers, else the first by name).")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Planned split as ARM=WEIGHT,... (default: equal).")
    ] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples of campaigns.")] = 2000,
    seed: Seed = 0,
    json_out: Annotated[Path | None, typer.Option("--out", help="Also write JSON here.")] = None,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
) -> None:
    """Compare the arms of a live experiment (placements' `arm`) on actions per unit cost.

    The campaign is the unit: each campaign's outcomes are summed and divided by its cost,
    then arms are compared across campaigns (Welch and bootstrap 95% intervals, relative
    lift), with a sample-ratio-mismatch check. Placements with empty outcomes are planned
    and skipped.
    """
    err = stderr()
    with progress(err, f"Reading {data_dir}"):
        placements = load_dataset(data_dir, read_of(columns, dayfirst)).placements
    with progress(err, f"Analysing {len(placements):,} placements"):
        result = analyse_experiment(
            placements, control=control, planned=_weights(split), resamples=resamples, seed=seed
        )
    print_analysis(result, stdout())
    if json_out is not None:
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        say(stdout(), f"Wrote {json_out}.")


def print_analysis(result: ExperimentResult, console: Console) -> None:
    """Print an experiment's analysis: per outcome a table with one column per arm (so that
    it fits 80 columns), then the sample-ratio check and what was skipped."""
    for metric in result.metrics:
        arms = metric.rows()
        table = result_table("", *(arm[0] for arm in arms))
        for i, label in enumerate(ROWS, start=1):
            table.add_row(label, *(arm[i] for arm in arms))
        show(console, f"{metric.metric} per unit cost, by campaign:", table)
    say(console, result.sample_ratio.sentence("campaigns"))
    if result.planned_skipped:
        say(console, f"Skipped {result.planned_skipped:,} planned placements (empty outcomes).")
    if result.unassigned_skipped:
        say(console, f"Skipped {result.unassigned_skipped:,} placements without an arm.")


@app.command("plan")
def plan(
    lift: Annotated[float, typer.Option(help="Relative lift to detect: 0.2 for +20%.")],
    data_dir: Annotated[
        Path | None,
        typer.Argument(metavar="DATA_DIR", help="Past campaigns to estimate the baseline from."),
    ] = None,
    baseline_mean: Annotated[float | None, typer.Option(help="Control mean per unit cost.")] = None,
    baseline_sd: Annotated[float | None, typer.Option(help="Its sd across campaigns.")] = None,
    metric: Annotated[str, typer.Option(help="Outcome: " + ", ".join(OUTCOMES) + ".")] = OUTCOMES[
        0
    ],
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Chance of detecting the lift.")] = 0.8,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
) -> None:
    """Campaigns per arm needed to detect a lift (two-sample test, normal approximation)."""
    if metric not in OUTCOMES:
        raise typer.BadParameter(f"expected one of {', '.join(OUTCOMES)}", param_hint="--metric")
    source = "given"
    if baseline_mean is None or baseline_sd is None:
        if data_dir is None:
            raise TrainingError(
                "Give --baseline-mean and --baseline-sd, or a DATA_DIR of past campaigns to "
                "estimate them from."
            )
        data = load_dataset(data_dir, read_of(columns, dayfirst))
        mean, sd, n = baseline(data.placements, metric)
        baseline_mean = mean if baseline_mean is None else baseline_mean
        baseline_sd = sd if baseline_sd is None else baseline_sd
        source = f"from {n:,} past campaigns"
    n_arm = sample_size(lift, baseline_mean, baseline_sd, alpha, power)
    say(
        stdout(),
        f"To detect a {lift:+.0%} lift in {metric} per unit cost (baseline mean "
        f"{baseline_mean:.4g}, sd {baseline_sd:.4g}, {source}) at alpha {alpha:g} and power "
        f"{power:g}: {n_arm:,} campaigns per arm.",
    )


@app.command("assign")
def assign(
    salt: Annotated[str, typer.Option(help="One per experiment; same salt and id, same arm.")],
    campaign_ids: Annotated[
        list[str] | None, typer.Argument(metavar="CAMPAIGN_ID", help="Campaign ids.")
    ] = None,
    arms: Annotated[str, typer.Option(help="Arm names, comma-separated.")] = "model,followers",
    campaigns: Annotated[
        Path | None, typer.Option(help="A campaigns table (.csv or .parquet) to assign.")
    ] = None,
) -> None:
    """Print `campaign_id,arm` lines: the arm is sha256(salt + campaign_id) mod the arms."""
    ids = list(campaign_ids or [])
    if campaigns is not None:
        table, problem = read_table_file(campaigns)
        if problem is not None:
            raise DataContractError([problem])
        if table is None or "campaign_id" not in table.columns:
            raise TrainingError(f"{campaigns} has no campaign_id column; give a campaigns table.")
        ids += [str(v) for v in table["campaign_id"]]
    if not ids:
        raise TrainingError("Give campaign ids as arguments or a --campaigns table.")
    names = [a.strip() for a in arms.split(",")]
    typer.echo("campaign_id,arm")
    for campaign_id in ids:
        typer.echo(f"{campaign_id},{assign_arm(campaign_id, names, salt)}")
