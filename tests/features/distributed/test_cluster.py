"""The Dask cluster: without Dask installed, one sentence says how to install it."""

from __future__ import annotations

import sys

import pytest

from features.distributed import INSTALL_HINT, dask_client, require_dask
from features.errors import FeaturesError


def test_without_dask_one_sentence_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    with pytest.raises(FeaturesError, match="not installed") as e:
        require_dask()
    assert str(e.value) == INSTALL_HINT
    assert INSTALL_HINT == (
        "The dask engine needs Dask, which is not installed here: pip install 'influence[dask]'."
    )


def test_a_local_cluster_without_workers_names_the_parameter() -> None:
    with (
        pytest.raises(FeaturesError, match=r"^workers must be at least 1, got 0\.$"),
        dask_client(workers=0),
    ):
        pass
