"""Where the commands write: results to stdout, progress, warnings and errors to stderr."""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["err", "out"]

# Piped output (logs, CI) gets room for the comparison tables instead of rich's 80 columns.
out = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)
