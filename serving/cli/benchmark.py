"""`influence benchmark`: benchmarks on real, public data (PeerIndex's human judgements)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serving.cli.console import progress, say, stderr, stdout
from serving.cli.tables import result_table, show

__all__ = ["app", "peerindex"]

app = typer.Typer(no_args_is_help=True, help="Benchmarks on real, public data.")


@app.command("peerindex")
def peerindex(
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
    from training.benchmarks.peerindex import BASELINE, EXPERIMENT, run_benchmark
    from training.settings import get_settings
    from training.tracking.store import use_tracking

    tracking = use_tracking(get_settings(), experiment=EXPERIMENT)

    with progress(stderr(), "Cross-validating") as step:

        def counted(done: int, total: int) -> None:
            if done < total:  # told after each fit: the next one begins
                step(f"Fit {done + 1} of {total}")

        result = run_benchmark(
            data,
            out_file,
            seeds=range(seeds),
            folds=folds,
            progress=counted,
            tracking=tracking,
        )
    table = result_table("variant", "AUC mean", "AUC sd", "vs baseline", "folds")
    for r in result.table.to_dict("records"):
        diff = "" if r["variant"] == BASELINE else f"{r['vs_baseline']:+.4f}"
        table.add_row(
            r["variant"], f"{r['auc_mean']:.4f}", f"{r['auc_sd']:.4f}", diff, f"{r['folds']}"
        )
    console = stdout()
    show(console, "PeerIndex AUC:", table)
    margin, spread = result.margin()
    verdict = "beats" if margin > spread else "does not beat"
    say(
        console,
        f"The pairwise model {verdict} the follower baseline by more than its CV spread "
        f"({margin:+.4f} AUC against a fold sd of {spread:.4f}). Wrote {out_file}; "
        f"MLflow run {result.run_id}.",
    )
