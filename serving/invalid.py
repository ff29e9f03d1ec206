"""The answer to a request that breaks the schema: short, capped and always encodable.

pydantic lists every error with the offending input. Echoed as is, one bad
request could make the answer larger than the request (a 3 MB body once earned a
154 MB answer), and input that JSON cannot carry (NaN, lone surrogates) would
make the answer itself fail. So at most `MAX_ERRORS` are listed, then "and N
more", and every echoed input is cut to `MAX_ECHO` characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_ECHO", "MAX_ERRORS", "describe"]

MAX_ERRORS = 20
MAX_ECHO = 80


def _safe(value: str) -> str:
    # Lone surrogates cannot be encoded as UTF-8; show them escaped instead.
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(value: str) -> str:
    clean = _safe(value)
    return clean if len(clean) <= MAX_ECHO else clean[:MAX_ECHO] + "..."


def _echo(value: object) -> object:
    """A short, JSON-safe stand-in for an offending input."""
    if value is None or isinstance(value, bool | int):
        return value if not isinstance(value, int) or abs(value) < 10**15 else _text(str(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return f"an object with {len(value)} fields"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    return _text(repr(value))


def _where(loc: Sequence[object]) -> str:
    parts: list[str] = []
    for x in loc:
        if x == "body":
            continue
        if isinstance(x, int):
            parts.append(f"[{x}]")
        else:
            parts.append(f".{_text(str(x))}" if parts else _text(str(x)))
    return "".join(parts) or "body"


def describe(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`{"detail": one sentence, "errors": [...]}` for pydantic's `errors`, capped.

    `detail` joins "where: what" for the first `MAX_ERRORS` errors and says how
    many more there are; `errors` keeps pydantic's type, loc and msg, a short echo
    of the input and the ctx (made JSON-safe the same way).
    """
    shown: list[dict[str, Any]] = []
    parts: list[str] = []
    for error in errors[:MAX_ERRORS]:
        where = _where(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "invalid JSON")
            parts.append(f"body: not valid JSON ({_text(str(reason))})")
        else:
            parts.append(f"{where}: {_safe(str(error.get('msg', 'invalid')))}")
        item: dict[str, Any] = {
            "type": str(error.get("type", "")),
            "loc": [x if isinstance(x, int) else _text(str(x)) for x in error.get("loc", ())],
            "msg": _safe(str(error.get("msg", ""))),
            "input": _echo(error.get("input")),
        }
        if "ctx" in error:
            item["ctx"] = {str(k): _echo(v) for k, v in error["ctx"].items()}
        shown.append(item)
    more = len(errors) - len(shown)
    detail = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return {"detail": detail, "errors": shown}
