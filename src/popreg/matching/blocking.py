"""Blocking: which pairs of records are compared at all.

Comparing every pair of a national register (5 * 10^15 pairs) is impossible; two records are
compared only when they agree exactly on the columns of at least one rule of
:data:`BLOCKING_RULES` (a missing value agrees with nothing, as SQL's NULL). The rules keep every
kind of defect the register sees while comparing a few pairs per person (see docs/matching.md).

The same rules drive Splink during training (:mod:`popreg.matching.splink_model` writes them as
SQL) and the generation of the pairs that ``popreg match dedupe`` and ``link`` score. Here they run
on the encoded records (:func:`popreg.matching.scoring.encode`) without SQL: for each rule the
records are sorted by their combined key, and every pair within a group of equal keys is produced
with NumPy index arithmetic, never a Python loop per record. A pair that an earlier rule produced
is left out of the later ones, so each pair is scored once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from popreg.matching.scoring import Column, Encoded, IndexArray

KeyArray = NDArray[np.int64]


@dataclass(frozen=True)
class BlockingRule:
    """Records are compared when they hold equal, known values in every one of ``columns``.

    The columns are those of a normalised frame (:data:`popreg.matching.frames.NORMALISED_COLUMNS`)
    plus ``family_initial`` and ``given_initial``, the first letters of the family and given name.
    """

    columns: tuple[str, ...]

    @property
    def sql(self) -> str:
        """The rule as Splink writes a blocking rule."""
        return " AND ".join(f"l.{column} = r.{column}" for column in self.columns)


BLOCKING_RULES = (
    # A misspelt or missing middle or given name, lost diacritics, an outdated address.
    BlockingRule(("birth_days", "family")),
    # A misspelt family name.
    BlockingRule(("birth_days", "given")),
    # Day and month exchanged, a wrong day, only the year known.
    BlockingRule(("family", "given", "birth_year")),
    # The name written in another order.
    BlockingRule(("name_key", "birth_year")),
    # Where a source carries them: the same identity number, whatever else is wrong.
    BlockingRule(("identifier",)),
    # A wrong date of birth and a misspelt name: the same postcode or locality and the initials.
    BlockingRule(("postcode", "family_initial", "given_initial")),
    BlockingRule(("locality", "family_initial", "given_initial")),
    # Family and given name both misspelt (or exchanged): the date of birth and where the person lives.
    BlockingRule(("birth_days", "postcode")),
    BlockingRule(("birth_days", "locality")),
    BlockingRule(("birth_days", "address")),
)
"""Pairs are compared only when one of these holds."""


def _initials(column: Column) -> tuple[KeyArray, int]:
    """The code of each record's first letter of a text column (-1 where the value is missing)."""
    if not column.known:
        return np.full(len(column.codes), -1, dtype=np.int64), 0
    letters = Column.of([str(value)[:1] for value in column.values])
    codes = letters.codes[np.maximum(column.codes, 0)]
    return np.where(column.codes >= 0, codes, -1).astype(np.int64), len(letters.values)


def _offset(values: NDArray[np.int32], known: NDArray[np.bool_]) -> tuple[KeyArray, int]:
    """Integer values (days, years) as codes from 0, -1 where unknown."""
    if not known.any():
        return np.full(len(values), -1, dtype=np.int64), 0
    low, high = int(values[known].min()), int(values[known].max())
    return np.where(known, values.astype(np.int64) - low, -1), high - low + 1


def column_codes(encoded: Encoded, name: str) -> tuple[KeyArray, int]:
    """Each record's code of a blocking column (-1: missing) and how many codes there can be."""
    if name == "birth_days":
        return _offset(encoded.birth_day, encoded.birth_known)
    if name == "birth_year":
        return _offset(encoded.birth_year, encoded.birth_known)
    if name in ("family_initial", "given_initial"):
        return _initials(encoded.text[name.removesuffix("_initial")])
    column = encoded.text[name]
    return column.codes.astype(np.int64), len(column.values)


def rule_keys(encoded: Encoded, rule: BlockingRule) -> KeyArray:
    """One integer per record, equal for two records exactly when the rule holds for them; -1 when
    the record has a column of the rule missing (it is then compared by no pair of this rule)."""
    key = np.zeros(encoded.size, dtype=np.int64)
    known = np.ones(encoded.size, dtype=bool)
    size = 1
    for name in rule.columns:
        codes, count = column_codes(encoded, name)
        known &= codes >= 0
        count = max(count, 1)
        if size > 2**62 // count:  # renumber the keys seen so far to keep the combination within 64 bits
            _, compact = np.unique(key, return_inverse=True)
            key, size = compact.astype(np.int64), int(compact.max(initial=0)) + 1
        key = key * count + np.maximum(codes, 0)
        size *= count
    return np.where(known, key, -1)


def _expand(owners: IndexArray, starts: IndexArray, counts: IndexArray) -> tuple[IndexArray, IndexArray]:
    """For each i, ``counts[i]`` pairs (``owners[i]``, ``starts[i] + k``) with k = 0, 1, ..."""
    total = int(counts.sum())
    first = np.repeat(owners, counts)
    steps = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return first, np.repeat(starts, counts) + steps


def _within(key: KeyArray, rank: IndexArray) -> tuple[IndexArray, IndexArray]:
    """Every pair of records with the same key, the record of lower ``rank`` first."""
    members = np.flatnonzero(key >= 0)
    order = members[np.lexsort((rank[members], key[members]))]
    sorted_keys = key[order]
    positions = np.arange(len(order), dtype=np.int64)
    group_end = np.searchsorted(sorted_keys, sorted_keys, side="right").astype(np.int64)
    first, second = _expand(positions, positions + 1, group_end - positions - 1)
    return order[first], order[second]


def _across(key: KeyArray, left_size: int) -> tuple[IndexArray, IndexArray]:
    """Every pair of a left record (index below ``left_size``) and a right one with the same key."""
    left = np.flatnonzero(key[:left_size] >= 0)
    right = left_size + np.flatnonzero(key[left_size:] >= 0)
    right = right[np.argsort(key[right], kind="stable")]
    right_keys = key[right]
    start = np.searchsorted(right_keys, key[left], side="left").astype(np.int64)
    end = np.searchsorted(right_keys, key[left], side="right").astype(np.int64)
    first, position = _expand(left.astype(np.int64), start, end - start)
    return first, right[position]


def candidate_pairs(
    encoded: Encoded, *, rank: IndexArray | None = None, left_size: int | None = None
) -> tuple[IndexArray, IndexArray]:
    """The pairs to score, each once: indices (``first[i]``, ``second[i]``) into the encoded records.

    Deduplication (``left_size`` None) pairs records of one table, the one of lower ``rank`` first
    (Splink puts the lower unique id on the left; pass the records' order by id to do the same).
    Linkage pairs the first ``left_size`` records (the left file) with the rest (the right file)
    and never two records of one file.
    """
    order = np.arange(encoded.size, dtype=np.int64) if rank is None else np.asarray(rank, dtype=np.int64)
    firsts: list[IndexArray] = []
    seconds: list[IndexArray] = []
    earlier: list[KeyArray] = []
    for rule in BLOCKING_RULES:
        key = rule_keys(encoded, rule)
        first, second = _within(key, order) if left_size is None else _across(key, left_size)
        # A pair an earlier rule already produced is scored there.
        fresh = np.ones(len(first), dtype=bool)
        for previous in earlier:
            fresh &= ~((previous[first] == previous[second]) & (previous[first] >= 0))
        firsts.append(first[fresh])
        seconds.append(second[fresh])
        earlier.append(key)
    return np.concatenate(firsts), np.concatenate(seconds)
