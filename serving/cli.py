"""The `influence` console script: one entry point, one subcommand per job.

The CLI lives in the top layer because it drives all three. Errors that a user can
act on (each layer's own error class) are printed as plain sentences with the
layer's exit code (2 for data that breaks the contract, 1 otherwise); anything else
is a bug and says so. Set INFLUENCE_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from features import OUTCOMES, DataContractError, FeaturesError, load_dataset, validate_directory
from features.io import atomic_path, read_table_file
from features.simulate import SimulationConfig, simulate_world, write_world
from serving import cli_compare, cli_serve, cli_train
from serving.cli_engine import (
    EngineOption,
    MemoryLimitOption,
    RunOn,
    SchedulerOption,
    WorkersOption,
)
from serving.errors import ServingError
from training.errors import TrainingError
from training.experiments.analysis import analyse_experiment
from training.experiments.assignment import assign_arm
from training.experiments.planning import baseline, sample_size

__all__ = ["app", "main"]

app = typer.Typer(
    name="influence",
    help="Predict the actions an influencer's sponsored post causes, not their popularity.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (logs, CI) gets room for the comparison tables instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)

DataDir = Annotated[
    Path,
    typer.Argument(
        help="Folder with accounts, posts, campaigns and placements (.csv or .parquet)."
    ),
]


@app.command()
def validate(data_dir: DataDir) -> None:
    """Check a data directory against the data contract and list every problem.

    Exits 0 when the data is valid (warnings are printed but do not fail), 2 when
    any rule is broken.
    """
    with err.status(f"Validating {data_dir} ..."):
        problems, warnings = validate_directory(data_dir)
    for w in warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    if problems:
        n = len(problems)
        err.print(
            f"[red]{data_dir} breaks the data contract in {n} place{'s' if n != 1 else ''}:[/]",
            highlight=False,
        )
        for p in problems:
            err.print(f"  - {p}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    out.print(f"{data_dir} is valid.", highlight=False)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the data directory to.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same world.")] = 0,
    campaigns: Annotated[int, typer.Option(help="Number of campaigns.")] = 60,
    days: Annotated[int, typer.Option(help="Days of account history.")] = 365,
    candidates: Annotated[int, typer.Option(help="Placements (candidates) per campaign.")] = 50,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    partitions: Annotated[
        int,
        typer.Option(
            help="Files per table (Parquet): a folder NAME.parquet per table, split by account, "
            "for --engine dask."
        ),
    ] = 1,
    experiment: Annotated[
        bool,
        typer.Option(
            "--experiment",
            help="Run the later half of the campaigns as an experiment: arms model "
            "(true best per unit cost) and followers (biggest first), in `arm`.",
        ),
    ] = False,
) -> None:
    """Write a simulated data directory in the contract, plus its ground truth.

    The ground truth (expected outcomes per placement) goes to `truth.parquet`,
    never into the input tables.
    """
    config = SimulationConfig(
        accounts=accounts,
        campaigns=campaigns,
        days=days,
        candidates=candidates,
        seed=seed,
        experiment=experiment,
    )
    try:
        config.validate()
    except ValueError as e:
        raise FeaturesError(str(e)) from e
    with err.status(f"Simulating {accounts:,} accounts over {days} days ..."):
        world = simulate_world(config)
    with err.status(f"Writing {len(world.posts):,} posts to {out_dir} ..."):
        write_world(world, out_dir, fmt, partitions)
    out.print(
        f"Wrote {out_dir}: {len(world.accounts):,} accounts, {len(world.posts):,} posts, "
        f"{len(world.campaigns):,} campaigns, {len(world.placements):,} placements "
        f"(ground truth in {out_dir / 'truth.parquet'}).",
        highlight=False,
    )


class _AnalyseByDefault(TyperGroup):
    """A group whose first argument, when it is not a command, goes to `analyse`."""

    # ctx is click's Context, which newer typer versions vendor: Any keeps both typed.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["analyse", *args]
        return super().parse_args(ctx, args)


abtest = typer.Typer(
    cls=_AnalyseByDefault,
    no_args_is_help=True,
    help="Analyse a live experiment between selection policies, size one, assign campaigns.\n\n"
    "`influence abtest DATA_DIR` is short for `influence abtest analyse DATA_DIR` "
    "(write ./plan for a data directory called plan).",
)
app.add_typer(abtest, name="abtest")
ABTEST_COLUMNS = ["arm", "campaigns", "mean per unit cost", "difference vs control"]
ABTEST_COLUMNS += ["Welch 95% CI", "bootstrap 95% CI", "p-value", "lift %"]


def _weights(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        return {k.strip(): float(v) for k, v in (part.split("=") for part in text.split(","))}
    except ValueError as e:
        raise typer.BadParameter(
            "expected ARM=WEIGHT,... such as model=1,followers=1", param_hint="--split"
        ) from e


@abtest.command("analyse")
def abtest_analyse(
    data_dir: DataDir,
    control: Annotated[
        str | None, typer.Option(help="Control arm (default: followers, else the first by name).")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Planned split as ARM=WEIGHT,... (default: equal).")
    ] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples of campaigns.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed: the same seed, the same CIs.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--out", help="Also write JSON here.")] = None,
) -> None:
    """Compare the arms of a live experiment (placements' `arm`) on actions per unit cost.

    The campaign is the unit: each campaign's outcomes are summed and divided by its cost,
    then arms are compared across campaigns (Welch and bootstrap 95% intervals, relative
    lift), with a sample-ratio-mismatch check. Placements with empty outcomes are planned
    and skipped.
    """
    with err.status(f"Reading {data_dir} ..."):
        placements = load_dataset(data_dir).placements
    with err.status(f"Analysing {len(placements):,} placements ..."):
        result = analyse_experiment(
            placements, control=control, planned=_weights(split), resamples=resamples, seed=seed
        )
    for metric in result.metrics:
        table = Table(*ABTEST_COLUMNS, title=f"{metric.metric} per unit cost, by campaign")
        for row in metric.rows():
            table.add_row(*row)
        out.print(table)
    out.print(result.sample_ratio.sentence("campaigns"), highlight=False, soft_wrap=True)
    if result.planned_skipped:
        out.print(f"Skipped {result.planned_skipped:,} planned placements (empty outcomes).")
    if result.unassigned_skipped:
        out.print(f"Skipped {result.unassigned_skipped:,} placements without an arm.")
    if json_out is not None:
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        out.print(f"Wrote {json_out}.", highlight=False)


@abtest.command("plan")
def abtest_plan(
    lift: Annotated[float, typer.Option(help="Relative lift to detect: 0.2 for +20%.")],
    data_dir: Annotated[
        Path | None, typer.Argument(help="Past campaigns to estimate the baseline from.")
    ] = None,
    baseline_mean: Annotated[float | None, typer.Option(help="Control mean per unit cost.")] = None,
    baseline_sd: Annotated[float | None, typer.Option(help="Its sd across campaigns.")] = None,
    metric: Annotated[str, typer.Option(help="Outcome: " + ", ".join(OUTCOMES) + ".")] = "clicks",
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Chance of detecting the lift.")] = 0.8,
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
        mean, sd, n = baseline(load_dataset(data_dir).placements, metric)
        baseline_mean = mean if baseline_mean is None else baseline_mean
        baseline_sd = sd if baseline_sd is None else baseline_sd
        source = f"from {n:,} past campaigns"
    n_arm = sample_size(lift, baseline_mean, baseline_sd, alpha, power)
    out.print(
        f"To detect a {lift:+.0%} lift in {metric} per unit cost (baseline mean "
        f"{baseline_mean:.4g}, sd {baseline_sd:.4g}, {source}) at alpha {alpha:g} and power "
        f"{power:g}: {n_arm:,} campaigns per arm.",
        highlight=False,
        soft_wrap=True,
    )


@abtest.command("assign")
def abtest_assign(
    salt: Annotated[str, typer.Option(help="One per experiment; same salt and id, same arm.")],
    campaign_ids: Annotated[list[str] | None, typer.Argument(help="Campaign ids.")] = None,
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


@app.command()
def features(
    data_dir: DataDir,
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    window: Annotated[int, typer.Option(help="Attribution window in days.")] = 30,
    engine: EngineOption = "pandas",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 2,
    memory_limit: MemoryLimitOption = None,
) -> None:
    """Build the point-in-time feature table: one row per placement.

    The feature state (vocabulary, priors) is fitted on the whole directory here,
    for inspection; `influence train` fits it on the training period only. With
    --engine dask the posts are read, validated and turned into features on a Dask
    cluster, per partition of accounts; the table is the pandas engine's, row for row.
    """
    from features.builder import FeatureBuilder
    from features.io import write_table

    cli_serve.refuse_input_as_out(out_file, data_dir)
    run_on = RunOn(engine, scheduler, workers, memory_limit)
    if run_on.dask:
        from features.distributed import fit_builder, load_partitioned, transform

        with run_on.client() as client:
            with err.status(f"Validating {data_dir} on the Dask cluster ..."):
                parted = load_partitioned(client, data_dir)
            with err.status(f"Building features for {len(parted.placements):,} placements ..."):
                builder = fit_builder(parted, FeatureBuilder(attribution_window_days=window))
                table = transform(parted, builder)
    else:
        with err.status(f"Validating {data_dir} ..."):
            data = load_dataset(data_dir)
        with err.status(f"Building features for {len(data.placements):,} placements ..."):
            table = FeatureBuilder(attribution_window_days=window).fit(data).transform(data)
    write_table(table, out_file)
    out.print(f"Wrote {out_file}: {len(table):,} rows, {table.shape[1] - 4} features.")


benchmark_app = typer.Typer(no_args_is_help=True, help="Benchmarks on real, public data.")
app.add_typer(benchmark_app, name="benchmark")


@benchmark_app.command("peerindex")
def benchmark_peerindex(
    data: Annotated[Path, typer.Option(help="PeerIndex train.csv; test.csv must sit beside it.")],
    out_file: Annotated[
        Path, typer.Option("--out", help="CSV file for the predictions on test.csv.")
    ] = Path("reports/peerindex_test_predictions.csv"),
    seeds: Annotated[int, typer.Option(min=1, help="Repeats of the CV (seeds 0, 1, ...).")] = 3,
    folds: Annotated[int, typer.Option(min=2, help="Folds per repeat.")] = 5,
) -> None:
    """Who is more influential? A pairwise model against the follower rule on human judgements.

    Cross-validates the model, each family removed and each family alone (stratified,
    identical pairs kept in one fold), prints the AUC table, writes probabilities that A is
    more influential for test.csv and logs the run to MLflow (experiment peerindex-benchmark).
    """
    from rich.progress import Progress

    from training.benchmarks.peerindex import BASELINE, run_benchmark

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("Cross-validating", total=None)
        result = run_benchmark(
            data,
            out_file,
            seeds=range(seeds),
            folds=folds,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    table = Table("variant", "AUC mean", "AUC sd", "vs baseline", "folds", title="PeerIndex AUC")
    for r in result.table.to_dict("records"):
        diff = "" if r["variant"] == BASELINE else f"{r['vs_baseline']:+.4f}"
        table.add_row(
            r["variant"], f"{r['auc_mean']:.4f}", f"{r['auc_sd']:.4f}", diff, f"{r['folds']}"
        )
    out.print(table)
    margin, spread = result.margin()
    verdict = "beats" if margin > spread else "does not beat"
    out.print(
        f"The pairwise model {verdict} the follower baseline by more than its CV spread "
        f"({margin:+.4f} AUC against a fold sd of {spread:.4f}). Wrote {out_file}; "
        f"MLflow run {result.run_id}.",
        highlight=False,
        soft_wrap=True,
    )


# Commands of other modules register here, one line each.
cli_train.register(app, out, err)
cli_serve.register(app, out, err)
cli_compare.register(app, out, err)


def main() -> None:
    """Run the CLI; turn the layers' errors into one plain sentence and an exit code."""
    try:
        app()
    except (FeaturesError, TrainingError, ServingError) as e:
        # Escaped: a message may hold brackets (`pip install 'influence[postgres]'`) that
        # rich would otherwise take for markup and drop.
        err.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except Exception as e:  # the last line of defence: no traceback for users
        if os.environ.get("INFLUENCE_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {type(e).__name__}: {escape(str(e))}. "
            "This is a bug in influence; run again with INFLUENCE_DEBUG=1 for the traceback "
            "and report it.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
