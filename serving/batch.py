"""Batch prediction: score a file of planned placements with the API's own code."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract import PLACEMENTS, POSTS
from features.errors import DataContractError, FeaturesError
from features.io import read_table_file, write_table
from features.moment import first_unobserved
from features.validate import check_references, coerce_table
from serving.errors import NotReadyError
from serving.scoring import effective_time, score_placements
from serving.settings import ServingSettings
from serving.state import data_dir_of, end_of_data, load_model, load_state
from training.artifacts.bundle import ModelBundle

__all__ = ["predict_file", "predict_file_dask"]


def _planned(
    placements_file: Path, accounts: pd.DataFrame, campaigns: pd.DataFrame
) -> pd.DataFrame:
    """The planned placements, typed; DataContractError unless every id is known."""
    raw, problem = read_table_file(Path(placements_file))
    if raw is None:
        raise DataContractError([problem] if problem else [])
    planned, problems = coerce_table(PLACEMENTS, raw, Path(placements_file).name)
    if not problems:
        tables = {
            "accounts": accounts,
            "campaigns": campaigns,
            "posts": pd.DataFrame({c: pd.Series(dtype=object) for c in POSTS.names}),
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
    return planned


def _as_of_targets(planned: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    targets = planned.copy()
    targets["posted_at"] = [effective_time(t, as_of) for t in targets["posted_at"]]
    return targets


def _write(scored: pd.DataFrame, bundle: ModelBundle, out_file: Path) -> int:
    columns = ["placement_id"]
    for t in bundle.targets:
        columns += [t, f"{t}_low", f"{t}_high"]
    if "roi" in scored:
        columns.append("roi")
    write_table(scored[columns], Path(out_file))
    return len(scored)


def predict_file(settings: ServingSettings, placements_file: Path, out_file: Path) -> int:
    """Score the placements in `placements_file`; write one row each to `out_file`.

    The file holds the contract's placement columns (outcomes absent or empty);
    its campaigns and accounts must be in the data directory. Each placement is
    described as of the earlier of its `posted_at` and the end of the data. The
    output has `placement_id`, each target's expected value under its own name,
    its interval bounds (`T_low`, `T_high`) and `roi`. Returns the row count.
    """
    state = load_state(settings)
    planned = _planned(placements_file, state.data.accounts, state.data.campaigns)
    scored = score_placements(state.bundle, state.data, _as_of_targets(planned, state.as_of))
    return _write(scored, state.bundle, out_file)


def predict_file_dask(
    settings: ServingSettings, client: Any, placements_file: Path, out_file: Path
) -> int:
    """`predict_file` with the histories on a Dask cluster: the same file, row for row.

    Takes the settings (model and data directory), a `distributed.Client`, the
    planned placements and the output path. The data directory is validated and
    partitioned by account on the workers (`features.distributed`); each partition's
    planned placements are scored there by `score_placements`, with the bundle sent
    once to every worker; the scores are gathered in the file's order and written
    atomically. Returns the row count.
    """
    from features.distributed import load_partitioned, map_buckets

    bundle, _ = load_model(settings.model_uri)
    data_dir = data_dir_of(settings)
    try:
        data = load_partitioned(client, data_dir, options=settings.read_options())
    except FeaturesError as e:
        raise NotReadyError(f"no data: {e}") from e
    observed = data.known_until(first_unobserved()).latest_post()
    as_of = end_of_data(pd.Series([observed]), data.placements, data_dir)
    planned = _planned(placements_file, data.accounts, data.campaigns)
    scored = map_buckets(data, partial(score_placements, bundle), _as_of_targets(planned, as_of))
    return _write(scored, bundle, out_file)
