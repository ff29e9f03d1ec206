"""Assign an experiment's units to arms: a salted hash, deterministic and stateless."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from training.errors import TrainingError

__all__ = ["assign_arm"]


def assign_arm(unit_id: str, arms: Sequence[str], salt: str) -> str:
    """The arm of one unit: sha256(salt + unit_id) as an integer, modulo the number of arms.

    Deterministic and stateless: the same salt, id and arm list always give the same arm,
    so anyone can recompute an assignment; a new salt gives a fresh randomisation.
    """
    if len(arms) < 2 or len(set(arms)) != len(arms) or not all(arms):
        raise TrainingError(
            f"Give at least two distinct, non-empty arm names; got {', '.join(arms) or 'none'}."
        )
    digest = hashlib.sha256((salt + unit_id).encode("utf-8")).hexdigest()
    return arms[int(digest, 16) % len(arms)]
