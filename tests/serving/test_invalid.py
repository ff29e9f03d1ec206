"""Validation answers stay short and encodable, whatever the request held."""

from __future__ import annotations

import json

from serving.invalid import describe


def test_errors_are_capped_at_twenty_then_counted() -> None:
    errors = [
        {"type": "int_type", "loc": ("body", "candidates", i, "cost"), "msg": "bad", "input": "x"}
        for i in range(1000)
    ]
    out = describe(errors)
    assert len(out["errors"]) == 20
    assert out["detail"].startswith("candidates[0].cost: bad; candidates[1].cost: bad;")
    assert out["detail"].endswith("candidates[19].cost: bad; and 980 more")


def test_inputs_are_echoed_short_and_json_safe() -> None:
    errors = [
        {"type": "string_too_long", "loc": ("body", "x" * 500), "msg": "m", "input": "y" * 10_000},
        {"type": "t", "loc": ("body", "a"), "msg": "m", "input": [0] * 100_000},
        {"type": "t", "loc": ("body", "b"), "msg": "m", "input": {"k": 1}},
        {
            "type": "t",
            "loc": ("body", "c"),
            "msg": "m",
            "input": float("nan"),
            "ctx": {"le": 1e400},
        },
        {"type": "t", "loc": ("body", "\ud800"), "msg": "m\udfff", "input": "\ud800"},
    ]
    out = describe(errors)
    text = json.dumps(out, allow_nan=False).encode("utf-8")  # raises if anything is not JSON
    assert len(text) < 2000
    first, as_list, as_object, nan, surrogate = out["errors"]
    assert first["input"] == "y" * 80 + "..."
    assert first["loc"] == ["body", "x" * 80 + "..."]
    assert as_list["input"] == "a list of 100000 items"
    assert as_object["input"] == "an object with 1 fields"
    assert nan["input"] == "nan"
    assert nan["ctx"] == {"le": "inf"}
    assert surrogate["input"] == "\\ud800"
    assert surrogate["msg"] == "m\\udfff"
