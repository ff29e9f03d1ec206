"""docs/python-api.md runs as written, and its notebook path gives `influence train`'s model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[2] / "docs" / "python-api.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def test_every_block_runs_and_fit_by_hand_is_what_train_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) == 7
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)

    final, shipped = namespace["final"], namespace["result"].bundle  # type: ignore[attr-defined]
    assert shipped.targets == final.targets == ["clicks", "revenue"]  # type: ignore[attr-defined]
    for target, model in shipped.models.items():
        by_hand = final.models[target]  # type: ignore[attr-defined]
        assert model.booster.model_to_string() == by_hand.booster.model_to_string()
        assert model.followers.model_to_string() == by_hand.followers.model_to_string()
        assert model.interval == by_hand.interval
        assert model.heuristic == by_hand.heuristic
    # The pure fits wrote nothing: the page's own folders are all there is.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export",
        "snapshot",
        "workspace",
        "world",
    ]
