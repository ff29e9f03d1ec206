"""The Dask engine for features: the pandas engine's table, state and errors, exactly."""

from __future__ import annotations

import itertools
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.builder import FeatureBuilder
from features.distributed import (
    INSTALL_HINT,
    PartitionedData,
    dask_client,
    fit_builder,
    load_partitioned,
    posts_problems,
    require_dask,
    transform,
)
from features.errors import DataContractError, FeaturesError, Problem, Rule
from features.io import Dataset, account_buckets, load_dataset, validate_directory
from features.relevance import TopicVectorizer
from features.simulate import SimulationConfig, World, simulate_world, write_world
from features.vocabulary import analyzer, term_counts, vocabulary_from_counts

WORLD = SimulationConfig(accounts=300, campaigns=20, days=240, candidates=20, seed=11)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes of one thread each, for the whole module."""
    with dask_client(workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dask") / "world"
    write_world(simulate_world(WORLD), out, partitions=5)
    return out


@pytest.fixture(scope="module")
def both(client: Any, world_dir: Path) -> tuple[Dataset, PartitionedData]:
    return load_dataset(world_dir), load_partitioned(client, world_dir)


def by_id(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("placement_id").reset_index(drop=True)


def assert_same_state(a: FeatureBuilder, b: FeatureBuilder) -> None:
    assert a.priors_ == b.priors_
    assert a.vectorizer_.vectorizer_.vocabulary_ == b.vectorizer_.vectorizer_.vocabulary_
    np.testing.assert_array_equal(a.vectorizer_.vectorizer_.idf_, b.vectorizer_.vectorizer_.idf_)


def test_partitioned_world_keeps_accounts_together(world_dir: Path) -> None:
    for name in ("posts", "placements", "accounts"):
        files = sorted((world_dir / f"{name}.parquet").glob("*.parquet"))
        assert len(files) == 5
        for i, file in enumerate(files):
            ids = pd.read_parquet(file)["account_id"]
            assert (account_buckets(ids, 5) == i).all()


def test_feature_table_state_warnings_and_digest_equal_the_pandas_engine(
    both: tuple[Dataset, PartitionedData],
) -> None:
    data, parted = both
    assert parted.warnings == data.warnings
    assert parted.digest() == data.digest()
    assert parted.latest_post() == data.posts["posted_at"].max()
    single = FeatureBuilder().fit(data)
    spread = fit_builder(parted, FeatureBuilder())
    assert_same_state(single, spread)
    table = transform(parted, spread)
    assert list(table["placement_id"]) == list(data.placements["placement_id"])
    pd.testing.assert_frame_equal(by_id(table), by_id(single.transform(data)), check_exact=True)


def test_fit_until_a_cutoff_and_known_until_equal_the_pandas_engine(
    both: tuple[Dataset, PartitionedData],
) -> None:
    from training.split import known_until

    data, parted = both
    until = pd.Timestamp("2025-07-01", tz="UTC")
    cutoff = pd.Timestamp("2025-06-01", tz="UTC")
    past, parted_past = known_until(data, until), parted.known_until(until)
    single = FeatureBuilder().fit(past, until=cutoff)
    spread = fit_builder(parted_past, FeatureBuilder(), until=cutoff)
    assert_same_state(single, spread)
    assert parted_past.digest() == past.digest()
    targets = past.placements.sample(frac=1.0, random_state=4)  # any order comes back
    pd.testing.assert_frame_equal(
        transform(parted_past, spread, targets),
        single.transform(past, targets),
        check_exact=True,
    )


words = st.sampled_from(
    ["run", "gym", "Yoga", "yoga", "#yoga", "serum", "a", "b2", "ok!", "é", "über", "x-ray", "42"]
)
texts = st.one_of(st.none(), st.just(""), st.lists(words, max_size=6).map(" ".join))


def outcome(fit: Any) -> tuple[str, Any, Any]:
    """What a fit gives: its vocabulary and IDF, or the error it raises."""
    try:
        vectorizer = fit().vectorizer_
    except ValueError as e:
        return ("error", type(e), str(e))
    return ("fitted", vectorizer.vocabulary_, vectorizer.idf_.tolist())


@settings(max_examples=300, deadline=None)
@given(
    corpus=st.lists(texts, max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=5),
    max_features=st.integers(1, 12),
)
def test_vocabulary_from_partition_counts_equals_fit_on_the_whole_corpus(
    corpus: list[str | None], cuts: list[int], max_features: int
) -> None:
    series = pd.Series(corpus, dtype=object)
    bounds = [0, *sorted(min(c, len(corpus)) for c in cuts), len(corpus)]
    analyze = analyzer(max_features)
    counts = [term_counts(series.iloc[a:b], analyze) for a, b in itertools.pairwise(bounds)]
    single = outcome(lambda: TopicVectorizer(max_features=max_features).fit(series))
    spread = outcome(lambda: vocabulary_from_counts(counts, max_features))
    assert spread == single
    if single[0] == "fitted" and len(series):  # and the same vectors, to the bit
        fitted_single = TopicVectorizer(max_features=max_features).fit(series)
        fitted_spread = vocabulary_from_counts(counts, max_features)
        a = fitted_single.transform(series).toarray()
        b = fitted_spread.transform(series).toarray()
        np.testing.assert_array_equal(a, b)


def break_world(world: World, out: Path) -> None:
    """A partitioned world breaking every rule of posts, over several posts files.

    Each file's problems come in an order of their own (comments before likes in the
    first), and wording that sorts against the rules' order (negative values before
    values that are not ..., within one column).
    """
    write_world(world, out, partitions=3)
    files = sorted((out / "posts.parquet").glob("*.parquet"))
    parts = []
    for file in files:
        part = pd.read_parquet(file).drop(columns=["shares"])  # a required column, everywhere
        part["likes"] = part["likes"].astype(float)
        part["sponsored"] = part["sponsored"].map({True: "yes", False: "no"})
        parts.append(part)
    first, second, third = parts
    first.loc[3, "comments"] = -2
    second.loc[2, "likes"] = -5
    second.loc[4, "posted_at"] = pd.NaT
    second.loc[5, "post_id"] = first.loc[0, "post_id"]  # an id used in another file
    second.loc[6] = second.loc[7]  # a row identical to a later one: the later is flagged
    second.loc[8, "likes"] = 2.5
    third.loc[1, "account_id"] = "nobody"
    third.loc[3, "likes"] = -1
    third.loc[4, "sponsored"] = "maybe"
    for file, part in zip(files, parts, strict=True):
        part.to_parquet(file, index=False)
    placements = sorted((out / "placements.parquet").glob("*.parquet"))[1]
    frame = pd.read_parquet(placements)
    frame.loc[0, "campaign_id"] = "c-none"
    frame.to_parquet(placements, index=False)


def test_bad_data_gives_the_pandas_engines_problems(
    client: Any, small_world: World, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    break_world(small_world, broken)
    with pytest.raises(DataContractError, match="in 10 places") as single:
        load_dataset(broken)
    with pytest.raises(DataContractError, match="in 10 places") as spread:
        load_partitioned(client, broken)
    assert spread.value.problems == single.value.problems
    assert str(spread.value).splitlines() == [
        "The data breaks the contract in 10 places:",
        "  - posts.parquet, column 'shares': missing; the contract requires it.",
        "  - posts.parquet, column 'posted_at': empty cells in 1 row (row 462).",
        "  - posts.parquet, column 'likes': negative values (expected >= 0) in 2 rows "
        "(rows 460, 1208).",
        "  - posts.parquet, column 'likes': values that are not whole numbers in 1 row (row 466).",
        "  - posts.parquet, column 'comments': negative values (expected >= 0) in 1 row (row 4).",
        "  - posts.parquet, column 'sponsored': values that are not true or false in 1 row "
        "(row 1209).",
        "  - posts.parquet: duplicate rows (identical to an earlier row) in 1 row (row 465).",
        "  - posts.parquet, column 'post_id': ids already used on an earlier row in 1 row "
        "(row 463).",
        "  - posts.parquet, column 'account_id': ids that are not in accounts.parquet in 1 row "
        "(row 1206).",
        "  - placements.parquet, column 'campaign_id': ids that are not in campaigns.parquet "
        "in 1 row (row 10).",
    ]


def edit_csv(data: Path, name: str, cells: dict[tuple[int, str], str]) -> None:
    frame = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
    for (row, column), value in cells.items():
        frame.loc[row, column] = value
    frame.to_csv(data / f"{name}.csv", index=False)


def broken_cells(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every rule of a table, most in one CSV file of posts; in the column `likes` worded to
    sort against the rules' order ("negative values" before "values that are not ...",
    which `coerce_table` checks first)."""
    edit_csv(data, "posts", {(1, "likes"): "-3", (2, "likes"): "many", (3, "likes"): "2.5"})
    edit_csv(data, "posts", {(4, "posted_at"): "", (5, "account_id"): "nobody"})
    posts = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    edit_csv(data, "posts", {(6, "post_id"): posts.loc[7, "post_id"]})
    edit_csv(data, "posts", {(8, c): posts.loc[9, c] for c in posts.columns})
    edit_csv(data, "placements", {(0, "cost"): "-1", (1, "account_id"): "ghost"})
    campaigns = pd.read_csv(data / "campaigns.csv", dtype=str, keep_default_na=False)
    campaigns.drop(columns=["brand"]).to_csv(data / "campaigns.csv", index=False)
    return data


def broken_files(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A table missing, one empty, one in two formats, and posts that are not UTF-8."""
    (data / "accounts.csv").unlink()
    (data / "campaigns.csv").write_text("")
    shutil.copy(data / "placements.csv", data / "placements.parquet")
    posts = (data / "posts.csv").read_bytes()
    (data / "posts.csv").write_bytes(posts + "p-x,a000001,caf\xe9\n".encode("latin-1"))
    return data


def unreadable_files(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Posts and placements that are not CSV (a row with more cells than the header)."""
    for name in ("posts", "placements"):
        lines = (data / f"{name}.csv").read_text().splitlines()
        lines[2] += ",one,too,many"
        (data / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return data


def not_a_directory(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return data / "posts.csv"


def unsearchable(data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder this user may not search (faked: the tests may run as root, who may)."""
    exists = Path.exists

    def refused(path: Path, *args: Any, **kwargs: Any) -> bool:
        if path.parent == data:
            raise PermissionError(13, "Permission denied", str(path))
        return exists(path, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", refused)
    return data


BREAKS = [broken_cells, broken_files, unreadable_files, not_a_directory, unsearchable]


def broken_copy(
    csv_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, break_: Any
) -> Path:
    data = tmp_path / "data"
    shutil.copytree(csv_dir, data)
    return Path(break_(data, monkeypatch))


@pytest.mark.parametrize("break_", BREAKS)
def test_every_rule_gives_the_pandas_engines_problems_in_its_order(
    client: Any,
    small_csv_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    break_: Any,
) -> None:
    data = broken_copy(small_csv_dir, tmp_path, monkeypatch, break_)
    with pytest.raises(DataContractError, match="breaks the contract") as single:
        load_dataset(data)
    with pytest.raises(DataContractError, match="breaks the contract") as spread:
        load_partitioned(client, data)
    assert spread.value.problems == single.value.problems
    assert str(spread.value) == str(single.value)


def test_the_broken_data_sets_break_every_rule_of_the_contract(
    small_csv_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = set()
    for i, break_ in enumerate(BREAKS):
        with monkeypatch.context() as patch:
            data = broken_copy(small_csv_dir, tmp_path / str(i), patch, break_)
            problems, _ = validate_directory(data)
        rules |= {p.rule for p in problems}
    warnings = {Rule.THIN_HISTORY, Rule.DATED_AFTER_NOW}
    assert rules == set(Rule) - warnings


def test_posts_problems_are_ordered_by_rule_and_column_never_by_message() -> None:
    """The messages here are worded as other rules', and sort against the rules' order."""

    def problem(column: str, rule: Rule, message: str, row: int) -> Problem:
        return Problem("posts.parquet", column, message, (row,), 1, rule=rule)

    first_file = [
        problem("likes", Rule.FRACTIONAL, "empty cells, worded wrong", 1),
        problem("followers", Rule.NEGATIVE, "values that are not whole numbers", 2),
    ]
    second_file = [
        problem("likes", Rule.EMPTY_CELLS, "missing; worded wrong", 10),
        problem("likes", Rule.FRACTIONAL, "another wording of the same rule", 11),
        Problem("posts.parquet", "shares", "ids already used", rule=Rule.MISSING_COLUMN),
    ]
    dup_rows, dup_keys = np.array([12], dtype=np.int64), np.array([3], dtype=np.int64)
    found = posts_problems([first_file, second_file], dup_rows, dup_keys, "posts.parquet")
    assert [(p.column, p.rule) for p in found] == [
        ("shares", Rule.MISSING_COLUMN),
        ("followers", Rule.NEGATIVE),
        ("likes", Rule.EMPTY_CELLS),
        ("likes", Rule.FRACTIONAL),
        (None, Rule.DUPLICATE_ROW),
        ("post_id", Rule.DUPLICATE_ID),
    ]
    merged = found[3]
    assert (merged.message, merged.rows, merged.count) == ("empty cells, worded wrong", (1, 11), 2)


def test_without_dask_one_sentence_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(FeaturesError, match="not installed") as e:
        require_dask()
    assert str(e.value) == INSTALL_HINT
    assert INSTALL_HINT == (
        "The dask engine needs Dask, which is not installed here: pip install 'influence[dask]'."
    )
