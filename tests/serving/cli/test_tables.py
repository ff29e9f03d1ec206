"""Result tables: an estimate over its interval, and the widest numbers still fit 80 columns."""

from __future__ import annotations

import io
import math

from rich.console import Console

from serving.cli.tables import estimate, result_table


def test_an_estimate_is_its_value_over_its_interval() -> None:
    assert estimate((0.15849, 0.119, 0.2123)) == "0.158\n[0.119, 0.212]"
    assert estimate((0.0683, 0.0509, 0.0929), "+.3g") == "+0.0683\n[+0.0509, +0.0929]"
    assert estimate((0.79, -0.004, 0.8512), ".2f") == "0.79\n[-0.00, 0.85]"
    assert estimate((math.nan, math.nan, math.nan)) == ""


def test_the_widest_numbers_fit_80_columns_whole() -> None:
    # The train table at its widest: rates below 1e-4 (8 characters each), negative
    # correlations, and the longest policy label.
    table = result_table(
        "policy",
        "conversions\nper cost at\n30% budget",
        "Spearman",
        "partial\nSpearman |\nfollowers",
        "NDCG@10",
    )
    for label in ("engagement heuristic", "biggest accounts first", "truth (simulated)"):
        table.add_row(
            label,
            estimate((7.44e-05, 1.23e-05, 0.000123)),
            *(estimate((-0.5, -0.99, -0.01), ".2f") for _ in range(2)),
            estimate((0.5, 0.01, 1.0), ".2f"),
        )
    buffer = io.StringIO()
    Console(file=buffer, width=80, color_system=None).print(table)
    text = buffer.getvalue()
    assert max(map(len, text.splitlines())) <= 80
    assert "…" not in text
    assert text.count("[1.23e-05, 0.000123]") == 3
    assert text.count("[-0.99, -0.01]") == 6
    assert {"engagement", "heuristic", "biggest", "accounts", "(simulated)"} <= set(text.split())


def test_a_header_is_shown_as_written_never_read_as_markup() -> None:
    # A currency in a header ("clicks per [b]") is text: rich would drop '[b]' as a style
    # and refuse '[/]' as a closing tag with nothing to close.
    table = result_table("policy", "clicks\nper [b]", "per [/]")
    table.add_row("model", "1", "2")
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(table)
    assert "per [b]" in out.getvalue()
    assert "per [/]" in out.getvalue()
