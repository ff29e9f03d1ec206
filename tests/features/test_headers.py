"""Exports' headers matched to the contract: case, spaces and punctuation set aside, other
names mapped in a TOML file, two candidates for one column an error naming both."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features import DataContractError, load_dataset, validate_directory
from features.headers import normalize, read_options


def _rename(data: Path, name: str, names: dict[str, str]) -> None:
    frame = pd.read_csv(data / f"{name}.csv", dtype=str, keep_default_na=False)
    frame.rename(columns=names).to_csv(data / f"{name}.csv", index=False)


def test_headers_normalize_to_contract_names() -> None:
    assert [normalize(h) for h in ["Followers", " followers", "Account ID", "Posted At"]] == [
        "followers",
        "followers",
        "account_id",
        "posted_at",
    ]
    assert normalize("Post-ID #") == "post_id"


def test_header_variants_load_to_the_clean_files_digest(data: Path, small_csv_dir: Path) -> None:
    _rename(data, "posts", {"followers": "Followers", "likes": " likes", "posted_at": "Posted At"})
    _rename(data, "accounts", {"account_id": "Account ID"})
    assert validate_directory(data) == ([], validate_directory(small_csv_dir)[1])
    assert load_dataset(data).digest() == load_dataset(small_csv_dir).digest()


def test_a_mapping_file_names_the_exports_own_headers(
    data: Path, small_csv_dir: Path, tmp_path: Path
) -> None:
    _rename(data, "posts", {"followers": "Follower Count", "posted_at": "Date"})
    _rename(data, "placements", {"cost": "Spend (USD)"})
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[posts]\nfollowers = "Follower Count"\nposted_at = "date"\n\n'
        '[placements]\ncost = "Spend (USD)"\n'
    )
    loaded = load_dataset(data, read_options(mapping))
    assert loaded.digest() == load_dataset(small_csv_dir).digest()
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "posts.csv, column 'posted_at': missing; the contract requires it.",
        "posts.csv, column 'followers': missing; the contract requires it.",
        "placements.csv, column 'cost': missing; the contract requires it.",
    ]


def test_a_mapped_header_the_file_lacks_is_named(data: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[campaigns]\nbrand = "Advertiser"\n')
    problems, _ = validate_directory(data, options=read_options(mapping))
    assert [str(p) for p in problems] == [
        f"campaigns.csv, column 'brand': missing; {mapping} maps it to 'Advertiser', which is "
        "not a header of this file (its headers: 'campaign_id', 'brand', 'topic', "
        "'starts_at')."
    ]


def test_two_headers_for_one_column_is_an_error_naming_both(data: Path) -> None:
    posts = pd.read_csv(data / "posts.csv", dtype=str, keep_default_na=False)
    posts.insert(4, "Followers", posts["followers"])
    posts.to_csv(data / "posts.csv", index=False)
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        "posts.csv, column 'followers': two headers could be it, 'followers' and 'Followers'; "
        "rename or remove one, or map the right one with --columns."
    ]


def test_a_header_written_twice_is_named_with_its_columns(data: Path) -> None:
    # pandas would read the second as 'followers.1' and the contract check never see it.
    lines = (data / "posts.csv").read_text().splitlines()
    header = lines[0].split(",")
    at = header.index("followers")
    rows = [line.split(",") for line in lines]
    doubled = [[*row, row[at]] for row in rows]
    (data / "posts.csv").write_text("\n".join(",".join(row) for row in doubled) + "\n")
    problems, _ = validate_directory(data)
    assert [str(p) for p in problems] == [
        f"posts.csv, column 'followers': the header is 'followers' twice (columns {at + 1} "
        f"and {len(header) + 1}); rename or remove one."
    ]


def test_a_broken_mapping_file_lists_every_problem(tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[post]\nfollowers = "F"\n\n[posts]\nfans = "F"\nlikes = 3\n')
    with pytest.raises(DataContractError, match="in 3 places") as caught:
        read_options(mapping)
    assert str(caught.value).splitlines() == [
        "The data breaks the contract in 3 places:",
        f"  - {mapping}: has [post], which is not a table of the contract; expected "
        "[accounts], [posts], [campaigns], [placements].",
        f"  - {mapping}, column 'posts.fans': maps 'fans', which is not a column of posts.",
        f"  - {mapping}, column 'posts.likes': maps 'likes' to 3; expected the export's "
        "header, as text.",
    ]
    mapping.write_text("[posts\n")
    with pytest.raises(DataContractError, match="cannot be read as a TOML column mapping"):
        read_options(mapping)
