"""Drawing from discrete distributions in constant time per draw: Walker's alias method.

A distribution over ``K`` outcomes is stored as ``K`` columns, each holding its own outcome with
some probability and one other outcome (its *alias*) otherwise. A draw takes one uniform variate
``u``: the column is ``floor(u * K)``, and the fractional part decides between the column's
outcome and its alias. That is a handful of array operations per million draws whatever ``K``,
where a binary search in the cumulative distribution costs a cache miss per step.

An :class:`AliasTable` holds several distributions ("rows": one per province, per sex and
variant, ...), of equal or different lengths, flattened into one array; each draw names its row.
The tables are built once per process (Vose's algorithm, a short loop per row) and the draws are
deterministic functions of the uniform variates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from popreg.synth.arrays import FloatArray, IntArray


def _vose(weights: FloatArray) -> tuple[FloatArray, IntArray]:
    """Acceptance probabilities and aliases of one distribution (weights need not sum to 1)."""
    size = len(weights)
    total = weights.sum()
    if size == 0 or total <= 0:
        raise ValueError("A distribution needs at least one outcome of positive weight.")
    scaled = weights * (size / total)
    probability = np.ones(size)
    alias = np.arange(size, dtype=np.int64)
    small = [i for i in range(size) if scaled[i] < 1.0]
    large = [i for i in range(size) if scaled[i] >= 1.0]
    while small and large:
        low, high = small.pop(), large.pop()
        probability[low] = scaled[low]
        alias[low] = high
        scaled[high] -= 1.0 - scaled[low]
        (small if scaled[high] < 1.0 else large).append(high)
    # What is left is 1 up to rounding: those columns keep their own outcome.
    return probability, alias


@dataclass(frozen=True)
class AliasTable:
    """One or more discrete distributions, ready for vectorised drawing (see the module docstring)."""

    offset: IntArray
    size: IntArray
    probability: FloatArray
    alias: IntArray

    @classmethod
    def from_weights(cls, rows: Sequence[npt.ArrayLike] | npt.NDArray[np.float64]) -> AliasTable:
        """A table with one row per sequence of non-negative weights."""
        probabilities: list[FloatArray] = []
        aliases: list[IntArray] = []
        for row in rows:
            probability, alias = _vose(np.asarray(row, dtype=np.float64).copy())
            probabilities.append(probability)
            aliases.append(alias)
        size = np.array([len(p) for p in probabilities], dtype=np.int64)
        offset = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        return cls(offset, size, np.concatenate(probabilities), np.concatenate(aliases))

    @classmethod
    def single(cls, weights: npt.ArrayLike) -> AliasTable:
        """A table holding one distribution."""
        return cls.from_weights([weights])

    @property
    def rows(self) -> int:
        return len(self.size)

    def draw(self, uniform: FloatArray, row: IntArray | None = None) -> IntArray:
        """An outcome (index within its row) per uniform variate in [0, 1), from row 0 or the given rows."""
        if row is None:
            size = self.size[0]
            scaled = uniform * size
            column = np.minimum(scaled.astype(np.int64), size - 1)
            flat = column + self.offset[0]
        else:
            sizes = self.size[row]
            scaled = uniform * sizes
            column = np.minimum(scaled.astype(np.int64), sizes - 1)
            flat = column + self.offset[row]
        keep = (scaled - column) < self.probability[flat]
        outcome: IntArray = np.where(keep, column, self.alias[flat])
        return outcome
