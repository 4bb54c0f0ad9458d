"""Rank statistics in plain numpy: average ranks with ties, and Spearman's correlation.

Used for difficulty percentiles in training and for the rank correlation of scores with a
difficulty label (MATH levels), where no per-model outcomes exist to route on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks of `values`; tied values share the mean of their ranks."""
    data = np.asarray(values, dtype=np.float64)
    order = np.argsort(data, kind="mergesort")
    _, first, counts = np.unique(data[order], return_index=True, return_counts=True)
    ranks = np.empty(len(data), dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def spearman(a: FloatArray, b: FloatArray) -> float | None:
    """Spearman's rank correlation of `a` and `b`; None when either is constant or too short."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"need equal lengths, got {len(x)} and {len(y)}")
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    return float(np.corrcoef(average_ranks(x), average_ranks(y))[0, 1])
