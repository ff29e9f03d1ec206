"""Batch prediction: score a file of planned placements with the API's own code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract import PLACEMENTS, POSTS
from features.errors import DataContractError, FeaturesError
from features.files import locate_table
from features.io import load_dataset, read_table, write_table
from features.moment import first_unobserved
from features.validate import check_references
from serving.errors import NotReadyError, UnknownCampaignError
from serving.scoring import effective_time, score_placements
from serving.settings import ServingSettings
from serving.sources import data_dir_of, end_of_data
from serving.state import load_model
from training.artifacts.bundle import ModelBundle

__all__ = ["OUTPUT_KEYS", "NewCampaign", "predict_file", "predict_file_dask"]

OUTPUT_KEYS = ("placement_id", "campaign_id", "account_id", "cost")
"""The planned placement's own columns that the output repeats before the predictions."""


@dataclass(frozen=True)
class NewCampaign:
    """The brand and topic of a planned campaign that is not in campaigns.csv yet."""

    brand: str
    topic: str


def _with_ids(raw: pd.DataFrame) -> pd.DataFrame:
    """`raw` with a `placement_id` for every row: `planned-N` (N the row's position in the
    file, from 1) where the column is absent or the cell empty, so that a plan needs no ids
    and the same file always gets the same ones."""
    generated = pd.Series([f"planned-{i}" for i in range(1, len(raw) + 1)], index=raw.index)
    out = raw.copy()
    if "placement_id" not in out:
        out.insert(0, "placement_id", generated)
        return out
    given = out["placement_id"]
    empty = given.isna() | (given.astype(str).str.strip() == "")
    out["placement_id"] = given.astype(object).where(~empty, generated)
    return out


def _campaigns_file(data_dir: Path) -> str:
    """The campaigns table's name in `data_dir` as the user sees it, for a message."""
    # As the data directory was read: any case, CSV, Parquet (file or folder) or .xlsx.
    path = locate_table(data_dir, "campaigns").path
    return path.name if path is not None else "campaigns.csv"


def _campaigns(
    planned: pd.DataFrame, campaigns: pd.DataFrame, files: tuple[str, str], new: NewCampaign | None
) -> pd.DataFrame:
    """`campaigns`, plus the plan's new campaign described by `new`; UnknownCampaignError for
    a campaign of the plan that is neither in the campaigns table nor described. `files`
    names the plan and the campaigns table in the messages."""
    file, owner = files
    unknown = list(
        dict.fromkeys(
            planned.loc[
                ~planned["campaign_id"].isin(campaigns["campaign_id"]), "campaign_id"
            ].dropna()
        )
    )
    named = ", ".join(repr(str(c)) for c in unknown)
    if new is None:
        if unknown:
            raise UnknownCampaignError(
                f"{file} plans campaigns that are not in {owner}: {named}; add them to "
                f"{owner}, or give a new campaign's --brand and --topic."
            )
        return campaigns
    if len(unknown) != 1:
        found = f"{len(unknown)} that are not in {owner}: {named}" if unknown else "none"
        raise UnknownCampaignError(
            f"--brand and --topic describe one new campaign, but {file} plans {found}; "
            + (f"add all but one to {owner}." if unknown else "drop --brand and --topic.")
        )
    row = pd.DataFrame(
        {"campaign_id": unknown, "brand": [new.brand], "topic": [new.topic]}
    ).reindex(columns=campaigns.columns)
    return pd.concat([campaigns, row.astype(campaigns.dtypes.to_dict())], ignore_index=True)


def _planned(
    placements_file: Path,
    settings: ServingSettings,
    accounts: pd.DataFrame,
    campaigns: pd.DataFrame,
    new: NewCampaign | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The planned placements, typed, and the campaigns with the plan's new one, if any;
    DataContractError unless every id is known.

    The plan is read as the data directory's exports are (`settings.read_options()`:
    loose headers, the `[placements]` mapping, `--dayfirst`), since it is usually made
    in the same spreadsheet; its ids are filled in once its headers are matched, so that
    a `Placement ID` column is the plan's own.
    """
    data_dir, file = data_dir_of(settings), Path(placements_file).name
    read = read_table(Path(placements_file), PLACEMENTS, settings.read_options(), prepare=_with_ids)
    planned, problems = read.typed, read.problems
    if planned is None:
        raise DataContractError(problems)
    if not problems:
        campaigns = _campaigns(planned, campaigns, (file, _campaigns_file(data_dir)), new)
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
            "placements": file,
        }
        problems = check_references(tables, files)
    if problems:
        raise DataContractError(problems)
    return planned, campaigns


def _as_of_targets(planned: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    targets = planned.copy()
    targets["posted_at"] = [effective_time(t, as_of) for t in targets["posted_at"]]
    return targets


def _write(scored: pd.DataFrame, planned: pd.DataFrame, bundle: ModelBundle, out_file: Path) -> int:
    # The plan's own columns come from the plan (`scored` holds the as-of `posted_at` and
    # no cost); matched by id, which the contract keeps unique, not by position.
    keys = planned[list(OUTPUT_KEYS)]
    out = scored.drop(columns=[c for c in OUTPUT_KEYS[1:] if c in scored]).merge(
        keys, on="placement_id", how="left", validate="one_to_one"
    )
    columns = list(OUTPUT_KEYS)
    for t in bundle.targets:
        columns += [t, f"{t}_low", f"{t}_high"]
    if "roi" in out:
        columns.append("roi")
    write_table(out[columns], Path(out_file))
    return len(out)


def predict_file(
    settings: ServingSettings,
    placements_file: Path,
    out_file: Path,
    new_campaign: NewCampaign | None = None,
) -> int:
    """Score the placements in `placements_file`; write one row each to `out_file`.

    The file holds the contract's placement columns (outcomes absent or empty);
    `placement_id` may be left out or empty: such a row is `planned-N`, N its
    position in the file (from 1). Its accounts must be in the data directory, and
    its campaigns too, except one new campaign described by `new_campaign` (its
    brand and topic): an analyst scores a plan before the campaign is booked. Each
    placement is described as of the earlier of its `posted_at` and the end of the
    data. The output has `placement_id`, `campaign_id`, `account_id` and `cost` as
    planned, each target's expected value under its own name, its interval bounds
    (`T_low`, `T_high`) and `roi`, in the file's order. Returns the row count.
    """
    bundle, _ = load_model(settings.model_uri)
    data_dir = data_dir_of(settings)
    try:
        data = load_dataset(data_dir, settings.read_options())
    except FeaturesError as e:
        raise NotReadyError(f"no data: {e}") from e
    as_of = end_of_data(data.posts["posted_at"], data.placements, data_dir)
    planned, campaigns = _planned(
        placements_file, settings, data.accounts, data.campaigns, new_campaign
    )
    data = replace(data, campaigns=campaigns)
    scored = score_placements(bundle, data, _as_of_targets(planned, as_of))
    return _write(scored, planned, bundle, out_file)


def predict_file_dask(
    settings: ServingSettings,
    client: Any,
    placements_file: Path,
    out_file: Path,
    new_campaign: NewCampaign | None = None,
) -> int:
    """`predict_file` with the histories on a Dask cluster: the same file, row for row.

    Takes the settings (model and data directory), a `distributed.Client`, the
    planned placements, the output path and the plan's new campaign, if any. The data
    directory is validated and partitioned by account on the workers
    (`features.distributed`); each partition's
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
    planned, campaigns = _planned(
        placements_file, settings, data.accounts, data.campaigns, new_campaign
    )
    data = replace(data, campaigns=campaigns)
    scored = map_buckets(data, partial(score_placements, bundle), _as_of_targets(planned, as_of))
    return _write(scored, planned, bundle, out_file)
