"""Choosing the score threshold that sends a given share of prompts to the strong tier.

As RouteLLM's `calibrate_threshold.py`: the threshold is the (1 - share) quantile of the
analyzer's scores on a representative prompt set (linear interpolation between scores), and
a prompt goes to the strong tier when its score is at or above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent_routing.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Calibration:
    """A threshold and the share of the calibration prompts it actually sends to strong."""

    strong_share: float
    threshold: float
    achieved_share: float
    rows: int


def check_strong_share(value: float) -> float:
    """`value` if it is strictly between 0 and 1, else ConfigError naming `strong_share`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError.single("strong_share", f"must be a number, got {value!r}")
    if not math.isfinite(value) or not 0.0 < value < 1.0:
        raise ConfigError.single(
            "strong_share", f"must be between 0 and 1 (exclusive), got {value!r}"
        )
    return float(value)


def calibrate_threshold(scores: npt.NDArray[np.float64], strong_share: float) -> Calibration:
    """The threshold at the (1 - strong_share) quantile of `scores`."""
    share = check_strong_share(strong_share)
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        raise ConfigError.single("data", "no prompts to calibrate on")
    threshold = float(np.quantile(values, 1.0 - share))
    return Calibration(
        strong_share=share,
        threshold=threshold,
        achieved_share=float(np.mean(values >= threshold)),
        rows=int(values.size),
    )
