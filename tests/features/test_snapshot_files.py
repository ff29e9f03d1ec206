"""`features.snapshot_files`: a snapshot folder appears whole or not at all, and its manifest
is checked file by file before anything is read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from features.snapshot_files import (
    MANIFEST,
    SnapshotError,
    building,
    checked_manifest,
    save_array,
    sha256,
    write_manifest,
)


def test_a_built_folder_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    with building(out) as work:
        files = [save_array(work, "a", np.arange(3))]
        write_manifest(work, {"as_of": "2026-01-01T00:00:00+00:00"}, files)
        assert not out.exists()  # nothing at the destination until the block ends
    first = checked_manifest(out)
    assert first["files"] == {"a.npy": sha256(out / "a.npy")}
    with building(out) as work:
        write_manifest(
            work, {"as_of": "2026-02-01T00:00:00+00:00"}, [save_array(work, "b", np.ones(2))]
        )
    assert sorted(p.name for p in out.iterdir()) == ["b.npy", MANIFEST]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]  # no temporary left


def test_a_failed_build_leaves_the_old_folder(tmp_path: Path) -> None:
    out = tmp_path / "snap"
    with building(out) as work:
        write_manifest(work, {}, [save_array(work, "a", np.arange(3))])
    before = (out / MANIFEST).read_text()

    def killed_while_writing() -> None:
        with building(out) as work:
            save_array(work, "half", np.arange(10))
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        killed_while_writing()
    assert (out / MANIFEST).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]


def test_a_manifest_naming_a_file_outside_its_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    folder = tmp_path / "snap"
    folder.mkdir()
    listed = {"format": 2, "files": {"../secret": sha256(tmp_path / "secret")}}
    (folder / MANIFEST).write_text(json.dumps(listed))
    with pytest.raises(SnapshotError, match="is missing or not the file") as refused:
        checked_manifest(folder)
    assert str(refused.value).startswith(f"{folder / '../secret'} is missing")
    (folder / MANIFEST).write_text(json.dumps({"format": 2}))
    with pytest.raises(SnapshotError, match="lists no files"):
        checked_manifest(folder)
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(SnapshotError, match="cannot be read as JSON"):
        checked_manifest(folder)


def test_a_folder_that_is_not_a_snapshot_is_never_replaced(tmp_path: Path) -> None:
    kept = tmp_path / "documents"
    kept.mkdir()
    (kept / "plan.xlsx").write_bytes(b"precious")
    with (
        pytest.raises(SnapshotError, match="exists and is not a snapshot") as refused,
        building(kept),
    ):
        pass
    assert str(refused.value) == (
        f"{kept} exists and is not a snapshot: writing one there would delete it; "
        "choose a new or empty folder."
    )
    assert (kept / "plan.xlsx").read_bytes() == b"precious"
    empty = tmp_path / "empty"
    empty.mkdir()
    with building(empty) as work:
        write_manifest(work, {}, [])
    assert (empty / MANIFEST).is_file()
