"""Charts of the analyst's pages, drawn on the server as inline SVG: no script, no network.

Each chart is a matplotlib `Figure` built directly (never pyplot, whose global state a
server shares between requests), saved as SVG text, legends outside the axes.
"""

from __future__ import annotations

import hashlib
import io
import re
from html import escape

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from serving.profile_schemas import AccountProfile, WeekPoint

__all__ = ["engagement_chart", "followers_chart"]

_SIZE = (7.0, 2.6)
_INK, _ACCENT, _MUTED = "#1f4e79", "#c0392b", "#7f8c8d"


def _svg(figure: Figure, label: str) -> str:
    """The figure as an `<svg>` element to sit inside a page, an image named by `label`:
    matplotlib draws text as paths, so without the name a screen reader (or a test)
    finds nothing in it."""
    out = io.StringIO()
    # No date in the metadata: the same chart drawn twice is the same text.
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = _stable_ids(out.getvalue(), label)
    element = text[text.index("<svg") :]
    return element.replace("<svg", f'<svg role="img" aria-label="{escape(label)}"', 1)


def _stable_ids(svg: str, label: str) -> str:
    """`svg` with matplotlib's random element ids (a fresh uuid per drawing, unless the
    process-wide `svg.hashsalt` is set) renamed in order of appearance, under a prefix of
    the chart's own: the same chart is the same text, and two charts of a page differ."""
    prefix = "c" + hashlib.sha256(label.encode()).hexdigest()[:8] + "-"
    names: dict[str, str] = {}
    for found in re.findall(r'\bid="([a-z][0-9a-f]{10})"', svg):
        names.setdefault(found, f"{prefix}{len(names)}")
    if not names:
        return svg
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda m: names[m.group(1)], svg)


def _series(values: list[float | None] | list[int | None]) -> npt.NDArray[np.float64]:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _weeks(points: list[WeekPoint]) -> npt.NDArray[np.datetime64]:
    return pd.DatetimeIndex([p.week for p in points]).tz_localize(None).to_numpy()


def followers_chart(profile: AccountProfile) -> str:
    """Followers per week, each jump that likes did not follow marked and labelled."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.add_subplot()
    points = profile.followers_weekly
    ax.plot(_weeks(points), _series([p.followers for p in points]), color=_INK)
    for jump in profile.jumps:
        # matplotlib's own date numbers, whatever its epoch; the function has no annotations.
        when = pd.Timestamp(jump.at).tz_convert(None).to_pydatetime()
        at = float(date2num(when))  # type: ignore[no-untyped-call]
        ax.axvline(at, color=_ACCENT, linewidth=1, linestyle=":")
        ax.annotate(f"+{jump.gained:,}", (at, 1), xycoords=("data", "axes fraction"),
                    color=_ACCENT, fontsize="small", ha="left", va="top")  # fmt: skip
    ax.set_ylabel("followers")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.spines[["top", "right"]].set_visible(False)
    jumps = len(profile.jumps)
    marked = (
        f"{jumps} rise{'s' if jumps != 1 else ''} that likes did not follow marked"
        if jumps
        else "no rise that likes did not follow"
    )
    return _svg(figure, f"Followers per week of {profile.account_id}, {marked}")


def engagement_chart(profile: AccountProfile) -> str:
    """Engagement rate per week beside the median of accounts of its tier."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    ax = figure.add_subplot()
    points = profile.engagement_weekly
    weeks = _weeks(points)
    ax.plot(weeks, _series([p.engagement_rate for p in points]), color=_INK, label="this account")
    tier = _series([p.tier_engagement_rate for p in points])
    ax.plot(weeks, tier, color=_MUTED, linestyle="--", label=f"{profile.tier} accounts (median)")
    ax.set_ylabel("engagement per follower")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
    ax.spines[["top", "right"]].set_visible(False)
    figure.legend(loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    return _svg(
        figure,
        f"Engagement per follower per week of {profile.account_id} beside the median of "
        f"{profile.tier} accounts",
    )
