"""The data served against the data the model learned from: one flag and one sentence."""

from __future__ import annotations

from pathlib import Path

from features.headers import ReadOptions
from serving.lineage import DataCheck, check_data, check_manifest

SAME, OTHER = "1a2b3c4d" + "0" * 56, "5e6f7a8b" + "0" * 56


def test_the_same_digest_is_the_model_s_data() -> None:
    assert check_data(SAME, SAME, Path("/d/acme"), "3", "acme") == DataCheck(
        True, "The data in /d/acme is the data model version 3 was trained on (digest 1a2b3c4d)."
    )


def test_another_digest_says_what_to_do_with_the_project_s_command() -> None:
    assert check_data(SAME, OTHER, Path("/d/b"), "3", "acme") == DataCheck(
        False,
        "The data in /d/b (digest 5e6f7a8b) is not the data model version 3 was trained on "
        "(digest 1a2b3c4d): if it is a newer export of the same brand, train on it "
        "(influence train /d/b --project acme); if it is another brand's, serve that brand's "
        "project (--project NAME).",
    )


def test_a_manifest_without_a_digest_cannot_be_compared() -> None:
    assert check_manifest({"version": "2"}, OTHER, Path("/d"), "influence") == DataCheck(
        None,
        "The manifest of model version 2 does not record the digest of the data it was "
        "trained on, so the data in /d cannot be compared with it.",
    )


def test_the_command_suggested_reads_the_data_as_the_service_does() -> None:
    # Served with --columns and --dayfirst, a training run without them would not read it.
    read = ReadOptions(dayfirst=True, columns_file="/d/map.toml")
    check = check_data(SAME, OTHER, Path("/d/b"), "3", "acme", read)
    assert "(influence train /d/b --columns /d/map.toml --dayfirst --project acme);" in check.note
    default_project = check_manifest({"data_digest": SAME}, OTHER, Path("/d/b"), "influence", read)
    assert "(influence train /d/b --columns /d/map.toml --dayfirst);" in default_project.note
