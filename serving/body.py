"""A request body's shape, checked from its JSON tokens before it is parsed into objects.

Parsing a body into Python objects and validating them costs far more than reading
its tokens: a 3 MB `{"candidates": [0, 0, ...]}` used to take 50 s and 1.4 GB to be
refused. `check_shape` streams the tokens once (ijson's C backend), in bounded
memory, and refuses at the first token that breaks a limit: too many candidates or
history posts (413, with the numbers), a container where the schema has a single
value, too many fields, text that is not UTF-8 (400) or not JSON (422, naming the
field). What passes is small enough for pydantic to validate in bounded time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import ijson

from serving.errors import (
    InvalidJSONError,
    ServingError,
    TooManyCandidatesError,
    TooManyHistoryPostsError,
    UndecodableBodyError,
)

__all__ = [
    "BodyLimits",
    "InvalidJSONError",
    "TooManyCandidatesError",
    "TooManyHistoryPostsError",
    "UndecodableBodyError",
    "check_shape",
]

MAX_FIELDS = 16
"""Fields of any one object: the widest in the schema (a history post) has 10."""


@dataclass(frozen=True)
class BodyLimits:
    """What one request may hold: candidates, and history posts over all candidates."""

    max_candidates: int
    max_history_posts: int


# What each container of a request is; anything else is a single value.
_ROOT, _CAMPAIGN, _CANDIDATES, _CANDIDATE, _HISTORY, _POST = range(6)
_CHILD_MAPS: dict[tuple[int, str | None], int] = {
    (_ROOT, "campaign"): _CAMPAIGN,
    (_CANDIDATES, None): _CANDIDATE,
    (_HISTORY, None): _POST,
}
_CHILD_ARRAYS: dict[tuple[int, str | None], int] = {
    (_ROOT, "candidates"): _CANDIDATES,
    (_CANDIDATE, "history"): _HISTORY,
}


@dataclass
class _Frame:
    role: int
    array: bool
    key: str | None = None
    index: int = -1
    fields: int = 0


def _path(stack: list[_Frame]) -> str:
    parts: list[str] = []
    for frame in stack:
        if frame.array and frame.index >= 0:
            parts.append(f"[{frame.index}]")
        elif not frame.array and frame.key is not None:
            parts.append(f".{frame.key}" if parts else frame.key)
    return "".join(parts) or "body"


def _child_role(stack: list[_Frame], array: bool) -> int | None:
    if not stack:
        return None if array else _ROOT
    parent = stack[-1]
    key = None if parent.array else parent.key
    return (_CHILD_ARRAYS if array else _CHILD_MAPS).get((parent.role, key))


def _refuse_constant(token: str) -> Any:
    raise _NotANumber(f"{token} is not a JSON number; send a number, or null where allowed")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotANumber(f"{text[:40]} is too large for a 64-bit float")
    return value


class _NotANumber(ValueError):
    """NaN, Infinity or a number past float range: Python's json would accept them."""


def _not_json(body: bytes, stack: list[_Frame]) -> ServingError:
    """The refusal of a body the token stream could not read: not UTF-8 (400), else 422
    with Python's own description of the first problem (the wording users know from
    `json`), or the field holding NaN, Infinity or an overflowing number."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return UndecodableBodyError(
            f"The body is not UTF-8 text (byte {e.start} is {body[e.start : e.start + 1]!r}); "
            "send JSON encoded as UTF-8."
        )
    try:
        # Both hooks raise at the first such token, so this stops where the stream did.
        json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except _NotANumber as e:
        return InvalidJSONError(f"{_path(stack)}: {e}.")
    except json.JSONDecodeError as e:
        return InvalidJSONError(f"body: not valid JSON ({e.msg}) at character {e.pos}")
    except RecursionError:
        return InvalidJSONError("body: not valid JSON (nested too deeply)")
    return InvalidJSONError(f"{_path(stack)}: not valid JSON.")


def check_shape(body: bytes, limits: BodyLimits) -> None:
    """Raise the refusal a request body earns by its shape alone; return if it has none.

    `body` is the raw request body. Counts candidates and history posts as they
    stream, so a body over a limit is refused at the first item past it.
    """
    stack: list[_Frame] = []
    candidates = posts = 0
    try:
        for event, value in ijson.basic_parse(body, use_float=True):
            if event == "map_key":
                frame = stack[-1]
                frame.key, frame.fields = value, frame.fields + 1
                if frame.fields > MAX_FIELDS:
                    raise InvalidJSONError(
                        f"{_path(stack[:-1])}: an object with more than {MAX_FIELDS} fields; "
                        "no object of the request has that many."
                    )
                continue
            if event in ("end_map", "end_array"):
                stack.pop()
                continue
            if stack and stack[-1].array:
                parent = stack[-1]
                parent.index += 1
                if parent.role == _CANDIDATES:
                    candidates += 1
                    if candidates > limits.max_candidates:
                        raise TooManyCandidatesError(
                            f"The request has more than {limits.max_candidates} candidates; "
                            f"at most {limits.max_candidates} are accepted. "
                            "Split it into several requests."
                        )
                elif parent.role == _HISTORY:
                    posts += 1
                    if posts > limits.max_history_posts:
                        raise TooManyHistoryPostsError(
                            "The request's histories hold more than "
                            f"{limits.max_history_posts} posts in all; at most "
                            f"{limits.max_history_posts} are accepted. Send fewer candidates "
                            "with history per request, or shorter histories."
                        )
            if event in ("start_map", "start_array"):
                array = event == "start_array"
                role = _child_role(stack, array)
                if role is None:
                    kind = "a list" if array else "an object"
                    raise InvalidJSONError(f"{_path(stack)}: {kind} is not allowed here.")
                stack.append(_Frame(role, array))
    except ServingError:
        raise
    except ijson.JSONError:
        raise _not_json(body, stack) from None
