"""Batch prediction: score a file of planned placements with the API's own code."""

from __future__ import annotations

from pathlib import Path

from features.contract import PLACEMENTS
from features.errors import DataContractError
from features.io import Dataset, read_table_file, write_table
from features.validate import check_references, coerce_table
from serving.scoring import effective_time, score_placements
from serving.settings import ServingSettings
from serving.state import load_state

__all__ = ["predict_file"]


def predict_file(settings: ServingSettings, placements_file: Path, out_file: Path) -> int:
    """Score the placements in `placements_file`; write one row each to `out_file`.

    The file holds the contract's placement columns (outcomes absent or empty);
    its campaigns and accounts must be in the data directory. Each placement is
    described as of the earlier of its `posted_at` and the end of the data. The
    output has `placement_id`, each target's expected value under its own name,
    its interval bounds (`T_low`, `T_high`) and `roi`. Returns the row count.
    """
    state = load_state(settings)
    raw, problem = read_table_file(Path(placements_file))
    if raw is None:
        raise DataContractError([problem] if problem else [])
    planned, problems = coerce_table(PLACEMENTS, raw, Path(placements_file).name)
    if not problems:
        tables = {
            "accounts": state.data.accounts,
            "campaigns": state.data.campaigns,
            "posts": state.data.posts.iloc[0:0],
            "placements": planned,
        }
        files = {
            "accounts": "accounts",
            "campaigns": "campaigns",
            "posts": "posts",
            "placements": Path(placements_file).name,
        }
        problems = check_references(tables, files)
    if problems:
        raise DataContractError(problems)
    targets = planned.copy()
    targets["posted_at"] = [effective_time(t, state.as_of) for t in targets["posted_at"]]
    data = Dataset(
        accounts=state.data.accounts,
        posts=state.data.posts,
        campaigns=state.data.campaigns,
        placements=state.data.placements,
    )
    scored = score_placements(state.bundle, data, targets)
    columns = ["placement_id"]
    for t in state.bundle.targets:
        columns += [t, f"{t}_low", f"{t}_high"]
    if "roi" in scored:
        columns.append("roi")
    write_table(scored[columns], Path(out_file))
    return len(scored)
