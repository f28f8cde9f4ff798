"""Personal identification numbers (PINs) for a whole synthetic population at once.

A PIN is ``PPP G YY NNNNNN`` (see :mod:`popreg.registry.pin`): the province where the birth was
registered, the century-and-sex digit ``G = 2 * ((year - 1900) // 100) + (1 if female)``, the last
two digits of the year of birth, and a six-digit serial. As the register does, serials come from a
keyed permutation of a per-prefix counter, never from "draw, then retry until unique":

* persons are grouped by their six-digit prefix ``PPPGYY`` with one sort, and numbered 0, 1, 2 ...
  within their group; a population drawn in several independent chunks ("lanes") interleaves
  them, the counter being ``number * lanes + lane``, so chunks never share a counter;
* the counter goes through a balanced Feistel network on its two base-1000 halves, which is a
  permutation of ``[0, 1_000_000)``, keyed by the seed and the prefix.

Distinct counters of one prefix therefore give distinct serials: every PIN is unique by
construction. The round function is a fast integer mix (SplitMix64), not the register's HMAC,
because synthetic numbers need to look random, not to resist an adversary; the two schemes are
different permutations, so a register that imports synthetic persons must not issue further PINs
for the same prefixes from counter 0 (the synthetic counters used are the group sizes).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from popreg.synth.arrays import BoolArray, IntArray
from popreg.synth.columns import ByteMatrix, digits

SERIAL_SPACE = 1_000_000
_HALF = 1_000
_ROUNDS = 4
_INDEX_BITS = 30
"""Row numbers appended below the prefix make every sort key distinct, so the order of equal
prefixes (and so each person's serial) does not depend on the sorting algorithm a CPU uses."""
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_ROUND_MULTIPLIER_1 = np.uint32(0x85EBCA6B)
_ROUND_MULTIPLIER_2 = np.uint32(0xC2B2AE35)
_DIVIDE_BY_HALF = 1_073_742
"""ceil(2**30 / 1000)."""


def _mix64(value: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: a bijective scramble of 64-bit integers (wrapping arithmetic)."""
    value = (value ^ (value >> np.uint64(30))) * _MIX_1
    value = (value ^ (value >> np.uint64(27))) * _MIX_2
    return value ^ (value >> np.uint64(31))


def _round(half: npt.NDArray[np.uint32], salt: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The Feistel round function: a 32-bit mix of a half and the salt, scaled to ``[0, 1000)``."""
    value = half ^ salt
    value *= _ROUND_MULTIPLIER_1
    value ^= value >> np.uint32(15)
    value *= _ROUND_MULTIPLIER_2
    value ^= value >> np.uint32(13)
    return ((value.astype(np.uint64) * np.uint64(_HALF)) >> np.uint64(32)).astype(np.uint32)


def prefixes(province_code: IntArray, birth_year: IntArray, female: BoolArray) -> IntArray:
    """The six-digit prefix ``PPPGYY`` as an integer, from the numeric province code (1-96)."""
    century_sex = 2 * ((birth_year - 1900) // 100) + female.astype(np.int64)
    return province_code * 1000 + century_sex * 100 + birth_year % 100


def serials(prefix: IntArray, *, key: int, lane: int = 0, lanes: int = 1) -> IntArray:
    """A serial for each person, unique among the persons sharing a prefix in all lanes.

    Raises ``ValueError`` if the counters of a prefix overflow the serial space (a million).
    """
    size = len(prefix)
    if size >= 1 << _INDEX_BITS:
        raise ValueError(f"At most {1 << _INDEX_BITS:,} persons can be numbered in one call.")
    position = np.arange(size, dtype=np.int64)
    order = np.argsort((prefix << _INDEX_BITS) | position)
    grouped = prefix[order]
    starts_group = np.ones(size, dtype=bool)
    starts_group[1:] = grouped[1:] != grouped[:-1]
    group_start = np.maximum.accumulate(np.where(starts_group, position, 0))
    counter = np.empty(size, dtype=np.int64)
    counter[order] = (position - group_start) * lanes + lane
    if size and counter.max() >= SERIAL_SPACE:
        raise ValueError("More than 1,000,000 persons share one PIN prefix: the serial space is exhausted.")

    with np.errstate(over="ignore"):
        salt = _mix64(prefix.astype(np.uint64) * _GOLDEN + np.uint64(key & 0xFFFFFFFFFFFFFFFF))
        # counter // 1000 by multiplication and shift: exact for every counter below 6 million.
        high = (counter * _DIVIDE_BY_HALF) >> 30
        left = high.astype(np.uint32)
        right = (counter - high * _HALF).astype(np.uint32)
        for round_index in range(_ROUNDS):
            round_salt = (salt >> np.uint64(8 * round_index)).astype(np.uint32)
            total = left + _round(right, round_salt)
            total -= (total >= _HALF).astype(np.uint32) * np.uint32(_HALF)
            left, right = right, total
    return left.astype(np.int64) * _HALF + right.astype(np.int64)


def pin_characters(
    province_code: IntArray, birth_year: IntArray, female: BoolArray, *, key: int, lane: int = 0, lanes: int = 1
) -> ByteMatrix:
    """The 12 ASCII digits of each person's PIN, one row per person."""
    prefix = prefixes(province_code, birth_year, female)
    serial = serials(prefix, key=key, lane=lane, lanes=lanes)
    return np.concatenate([digits(prefix, 6), digits(serial, 6)], axis=1)
