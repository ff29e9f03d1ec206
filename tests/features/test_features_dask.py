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
    require_dask,
    transform,
)
from features.errors import DataContractError, FeaturesError
from features.io import Dataset, account_buckets, load_dataset
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
    from training.evaluation.split import known_until

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
    """A partitioned world with problems spread over several posts files."""
    write_world(world, out, partitions=3)
    files = sorted((out / "posts.parquet").glob("*.parquet"))
    first = pd.read_parquet(files[0])
    second = pd.read_parquet(files[1])
    second.loc[2, "likes"] = -5
    second.loc[4, "posted_at"] = pd.NaT
    second.loc[5, "post_id"] = first.loc[0, "post_id"]  # an id used in another file
    second.loc[6] = second.loc[7]  # a row identical to a later one: the later is flagged
    second.to_parquet(files[1], index=False)
    third = pd.read_parquet(files[2])
    third.loc[1, "account_id"] = "nobody"
    third.loc[3, "likes"] = -1
    third.to_parquet(files[2], index=False)


def test_bad_data_gives_the_pandas_engines_problems(
    client: Any, small_world: World, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    break_world(small_world, broken)
    with pytest.raises(DataContractError, match="in 5 places") as single:
        load_dataset(broken)
    with pytest.raises(DataContractError, match="in 5 places") as spread:
        load_partitioned(client, broken)
    assert spread.value.problems == single.value.problems
    assert str(spread.value).splitlines() == [
        "The data breaks the contract in 5 places:",
        "  - posts.parquet, column 'posted_at': empty cells in 1 row (row 462).",
        "  - posts.parquet, column 'likes': negative values (expected >= 0) in 2 rows "
        "(rows 460, 1208).",
        "  - posts.parquet: duplicate rows (identical to an earlier row) in 1 row (row 465).",
        "  - posts.parquet, column 'post_id': ids already used on an earlier row in 1 row "
        "(row 463).",
        "  - posts.parquet, column 'account_id': ids that are not in accounts.parquet in 1 row "
        "(row 1206).",
    ]


def test_csv_data_and_a_missing_table_give_the_pandas_engines_problems(
    client: Any, small_csv_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "csv"
    shutil.copytree(small_csv_dir, broken)
    posts = (broken / "posts.csv").read_text().splitlines()
    posts[3] = posts[3].replace(",", ",x", 1)  # a post whose account does not exist
    (broken / "posts.csv").write_text("\n".join(posts) + "\n")
    (broken / "campaigns.csv").unlink()
    with pytest.raises(DataContractError, match=r"campaigns\.csv") as single:
        load_dataset(broken)
    with pytest.raises(DataContractError, match=r"campaigns\.csv") as spread:
        load_partitioned(client, broken)
    assert str(spread.value) == str(single.value)


def test_without_dask_one_sentence_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(FeaturesError, match="not installed") as e:
        require_dask()
    assert str(e.value) == INSTALL_HINT
    assert INSTALL_HINT == (
        "The dask engine needs Dask, which is not installed here: pip install 'influence[dask]'."
    )
