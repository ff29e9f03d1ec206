"""Kevin Hillstrom's MineThatData e-mail experiment as an experiment table.

64,000 customers were randomised to "Mens E-Mail", "Womens E-Mail" or "No E-Mail" and
followed for two weeks (`visit`, `conversion`, `spend`). It is a real randomised experiment
with published arm means, so it checks `training.experiments.analysis` end to end: here the unit of
randomisation is the customer, each of cost 1, so actions per unit cost are the arm rates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.errors import TrainingError

__all__ = ["ARM", "CONTROL", "OUTCOMES", "UNIT", "read_hillstrom"]

UNIT = "customer"
ARM = "segment"
CONTROL = "No E-Mail"
OUTCOMES: tuple[str, ...] = ("visit", "conversion", "spend")


def read_hillstrom(path: Path) -> pd.DataFrame:
    """Read `hillstrom.csv` into one row per customer: unit, arm, cost and the outcomes.

    Returns the columns `customer` (the row number as a string), `arm` (the segment),
    `cost` (1.0) and `visit`, `conversion`, `spend` as floats, ready for
    `analyse_experiment(frame, unit="customer", outcomes=OUTCOMES, control=CONTROL)`.
    Raises TrainingError when the file is missing or lacks a column.
    """
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"{path} does not exist; expected the MineThatData file hillstrom.csv.")
    raw = pd.read_csv(path)
    absent = [c for c in (ARM, *OUTCOMES) if c not in raw.columns]
    if absent:
        raise TrainingError(
            f"{path.name} lacks the columns {', '.join(absent)}; expected the MineThatData "
            f"columns {ARM}, {', '.join(OUTCOMES)}."
        )
    frame = pd.DataFrame(
        {
            UNIT: [str(i) for i in range(len(raw))],
            "arm": raw[ARM].astype(str),
            "cost": 1.0,
        }
    )
    for name in OUTCOMES:
        frame[name] = pd.to_numeric(raw[name], errors="raise").astype("float64")
    return frame
