"""`influence rank`: a campaign's portfolio from a shortlist CSV, or discovered, as a CSV.

The planner page's code path on the command line: the shortlist is read by
`serving.shortlist`, ranked by `serving.rank.rank_candidates` on the champion bundle in
this process (as `influence predict` scores), and written by `serving.portfolio_csv`, so
that the file equals the page's "Download CSV" for the same inputs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from serving.cli.console import progress, say, stderr, stdout, warn
from serving.cli.options import (
    ColumnsFile,
    DataDir,
    DayFirst,
    ModelUri,
    Project,
    local_serving,
    refuse_input_as_out,
)

__all__ = ["app", "rank"]

app = typer.Typer()


class Objective(StrEnum):
    """What a portfolio maximises (`features.budget.OBJECTIVE_TARGETS`)."""

    clicks = "clicks"
    referrals = "referrals"
    conversions = "conversions"
    revenue = "revenue"
    roi = "roi"


def _followers(value: int | None, flag: str) -> float | None:
    if value is not None and value < 0:
        raise typer.BadParameter(f"must be 0 or more, got {value}", param_hint=flag)
    return None if value is None else float(value)


@app.command()
def rank(
    data_dir: DataDir,
    brand: Annotated[str, typer.Option(help="The campaign's brand.")],
    topic: Annotated[str, typer.Option(help="The campaign's brief: its topic, in words.")],
    budget: Annotated[
        float, typer.Option(help="What the campaign may spend, in the costs' currency.")
    ],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the portfolio (.csv).")],
    objective: Annotated[
        Objective, typer.Option(help="What the portfolio maximises; roi maximises net return.")
    ] = Objective.clicks,
    shortlist: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.csv",
            help="Candidates: account_id, optional cost (blank: estimated) and posted_at. "
            "Without it, every account of DATA_DIR is a candidate, priced by the model.",
        ),
    ] = None,
    min_followers: Annotated[
        int | None, typer.Option(help="Consider only accounts with at least this many followers.")
    ] = None,
    max_followers: Annotated[
        int | None, typer.Option(help="Consider only accounts with at most this many followers.")
    ] = None,
    model: ModelUri = None,
    columns: ColumnsFile = None,
    dayfirst: DayFirst = False,
    project: Project = None,
) -> None:
    """Choose a campaign's portfolio within a budget, beside the follower rule's.

    Writes one row per candidate, best predicted objective per unit cost first:
    account_id, followers, cost (quoted, or estimated with cost_low and cost_high),
    cost_estimated, each outcome's T_expected, T_low and T_high (90%), roi,
    chosen_by_model and chosen_by_follower_rule; then says in a paragraph what each
    portfolio is expected to bring. --dayfirst also reads the shortlist's dates.
    """
    from pydantic import ValidationError

    from features.io import atomic_path
    from serving.portfolio_csv import portfolio_csv, summary
    from serving.rank import FollowerRange, rank_candidates
    from serving.schemas import Campaign
    from serving.shortlist import MIN_COST, read_shortlist
    from serving.state import load_state

    refuse_input_as_out(out_file, data_dir, *([shortlist] if shortlist else []))
    if out_file.suffix.lower() != ".csv":
        raise typer.BadParameter(f"{out_file} is not a .csv file name", param_hint="--out")
    if not budget >= MIN_COST:
        raise typer.BadParameter(
            f"must be at least {MIN_COST}, got {budget:g}", param_hint="--budget"
        )
    span = FollowerRange(
        _followers(min_followers, "--min-followers"), _followers(max_followers, "--max-followers")
    )
    if span.low is not None and span.high is not None and span.low > span.high:
        raise typer.BadParameter(
            f"{min_followers} is above --max-followers {max_followers}; no account has both",
            param_hint="--min-followers",
        )
    try:
        campaign = Campaign(brand=brand, topic=topic).model_dump()
    except ValidationError as e:
        where = "--" + str(e.errors()[0]["loc"][0])
        raise typer.BadParameter(str(e.errors()[0]["msg"]), param_hint=where) from None
    settings = local_serving(data_dir, columns, dayfirst, model, project)
    say(stderr(), settings.describe(decisions=False), soft_wrap=True)
    with progress(stderr(), f"Ranking candidates in {data_dir}") as step:
        state = load_state(settings)
        candidates = None
        if shortlist is not None:
            step(f"Reading {shortlist}")
            try:
                data = shortlist.read_bytes()
            except OSError as e:
                raise typer.BadParameter(
                    f"{shortlist}: {e.strerror}", param_hint="--shortlist"
                ) from e
            candidates = read_shortlist(
                data, shortlist.name, settings.max_candidates, state.knows, settings.dayfirst
            )
        step("Scoring the candidates and choosing")
        ranked = rank_candidates(
            state,
            campaign,
            candidates,
            budget,
            objective.value,
            settings.max_history_posts,
            span,
        )
        written = portfolio_csv(ranked, list(state.targets))
        with atomic_path(out_file) as tmp:
            tmp.write_bytes(written)
    for unscored in ranked.scored.errors:
        warn(stderr(), f"{unscored.account_id} was not scored: {unscored.error}.")
    say(stdout(), summary(ranked))
    say(stdout(), f"Wrote {out_file}: {len(ranked.scored):,} candidates.")
