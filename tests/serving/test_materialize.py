"""`serving.materialize`: the snapshot of a data directory for the served model, the same from
the pandas engine and from a Dask cluster, and a model or data that is missing said in one
sentence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from serving.errors import NotReadyError
from serving.materialize import materialize_data
from serving.settings import ServingSettings

POSTS = ("posts-", "posts_index.parquet")


def _settings(trained: Path, **overrides: Any) -> ServingSettings:
    values: dict[str, Any] = {
        "home": trained,
        "data_dir": trained / "world",
        "model_uri": str(trained / "models" / "champion.json"),
    }
    return ServingSettings(**{**values, **overrides})


def test_both_engines_write_the_same_snapshot(
    trained: Path, tmp_path: Path, dask_cluster: Any
) -> None:
    here = materialize_data(_settings(trained), tmp_path / "pandas")
    there = materialize_data(_settings(trained), tmp_path / "dask", dask_cluster)
    assert (there.version, there.accounts, there.as_of) == (here.version, here.accounts, here.as_of)
    mine, theirs = (json.loads(m.manifest.read_text()) for m in (here, there))
    files = [mine.pop("files"), theirs.pop("files")]
    assert mine == theirs
    same = {f: d for f, d in files[0].items() if not f.startswith(POSTS)}
    assert same == {f: d for f, d in files[1].items() if not f.startswith(POSTS)}
    assert len(same) == 18  # every file but the posts parts and their index


def test_a_missing_model_or_data_is_one_sentence(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(NotReadyError, match="no model"):
        materialize_data(_settings(trained, model_uri=str(tmp_path / "none.json")), tmp_path / "s")
    with pytest.raises(NotReadyError, match="no data") as refused:
        materialize_data(_settings(trained, data_dir=None), tmp_path / "s")
    assert str(refused.value) == (
        "no data: set INFLUENCE_DATA_DIR (or --data) to the folder of account histories"
    )
    assert not (tmp_path / "s").exists()
