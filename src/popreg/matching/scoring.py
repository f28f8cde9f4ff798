"""Fellegi-Sunter scoring of record pairs with the comparison levels of popreg's linkage model.

Each pair of records is compared field by field; each comparison falls into one *level* (exact,
fuzzy, different, ...). A level has two probabilities: ``m``, how often two records of the same
person fall into it, and ``u``, how often two records of different persons do. The pair's match
weight is the sum of ``log2(m / u)`` over its comparisons plus the prior ``log2(λ / (1 - λ))``
(λ: the share of pairs that are matches), and its match probability is ``2^w / (1 + 2^w)``.
Level 0 of every comparison means "a value is missing": it adds nothing.

The same levels are written as Splink comparisons (:mod:`popreg.matching.splink_model`), so the
parameters that Splink estimates without labels (u by random sampling, m by expectation
maximisation) drive this vectorised scorer too; :data:`DEFAULT_PARAMETERS` are the values used
until a trained model is shipped (``matching/data/parameters.json``).

How it is fast: registers repeat their values (a few hundred family names, a few thousand given
names), so each text column is turned into integer codes once per record (:func:`encode`); a
pair's equality is then a comparison of two integers, and a string similarity is computed once
per distinct (left value, right value) pair with rapidfuzz and gathered back to every pair that
has it. Levels and weights are NumPy lookups; nothing runs in Python once per pair.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from rapidfuzz.process import cpdist

FloatArray = NDArray[np.float64]
LevelArray = NDArray[np.int8]
IndexArray = NDArray[np.int64]
CodeArray = NDArray[np.int32]

FUZZY_NAME = 0.9
"""Jaro-Winkler similarity from which two folded name parts count as a fuzzy match."""
SIMILAR_ADDRESS = 0.9
"""Jaro-Winkler similarity from which two normalised address lines count as similar."""
PARALLEL_FROM = 20_000
"""Distinct value pairs from which string similarities are computed on every core."""
TF_MINIMUM_U = 1e-6
"""Smallest u of a term-frequency adjusted level (a name seen once in the data)."""

# Comparison -> its levels after level 0 ("missing"), in the order they are tested.
LEVELS: dict[str, tuple[str, ...]] = {
    "family": ("exact", "fuzzy", "different"),
    "middle": ("exact", "initials", "fuzzy", "different"),
    "given": ("exact", "fuzzy", "different"),
    "birth": ("exact", "swapped_day_month", "same_imprecise", "same_year", "within_a_year", "different"),
    "sex": ("same", "different"),
    "place": ("same_commune", "same_province", "different"),
    "address": ("exact", "similar", "different"),
    "identifier": ("exact", "one_edit", "different"),
    "postcode": ("exact", "different"),
    "locality": ("exact", "fuzzy", "different"),
}

TF_COMPARISONS = ("family", "given")
"""Comparisons whose exact level is adjusted for the frequency of the value (see :class:`Parameters`)."""

# (m, u) of each level. The u values are those of random pairs of Vietnamese records (family names
# are concentrated: about four in ten people are Nguyễn, so two strangers share it often); the m
# values follow the defect rates of registers (a name part misspelt in a few records in a hundred).
# An identifier (an old ID-card or social-insurance number) is shared by strangers almost never and
# mistyped in a few records in a hundred.
DEFAULT_PARAMETERS: dict[str, Any] = {
    "prior": 1e-4,
    "levels": {
        "family": [[0.92, 0.15], [0.05, 0.02], [0.03, 0.83]],
        "middle": [[0.85, 0.12], [0.04, 0.02], [0.06, 0.06], [0.05, 0.80]],
        "given": [[0.92, 0.02], [0.06, 0.03], [0.02, 0.95]],
        "birth": [[0.85, 0.0001], [0.04, 0.0001], [0.02, 0.0005], [0.03, 0.01], [0.03, 0.03], [0.03, 0.9594]],
        "sex": [[0.98, 0.5], [0.02, 0.5]],
        "place": [[0.75, 0.001], [0.12, 0.03], [0.13, 0.969]],
        "address": [[0.6, 0.0005], [0.2, 0.01], [0.2, 0.9895]],
        "identifier": [[0.9, 1e-6], [0.06, 1e-5], [0.04, 0.999989]],
        "postcode": [[0.9, 0.01], [0.1, 0.99]],
        "locality": [[0.85, 0.01], [0.08, 0.005], [0.07, 0.985]],
    },
}

_TEXT_COLUMNS = (
    "family",
    "middle",
    "given",
    "name_key",
    "birth_precision",
    "sex",
    "commune",
    "province",
    "address",
    "identifier",
    "postcode",
    "locality",
)


@dataclass(frozen=True)
class Records:
    """Normalised records as columns (see :func:`popreg.matching.frames.records_from_frame`).

    Names are folded; ``birth_day`` is days since 1970-01-01 (``birth_known`` False when missing),
    ``birth_precision`` "day", "month" or "year"; ``sex`` "M"/"F" or ""; ``commune``/``province``
    the current (2025) unit codes or ""; ``address`` the normalised address line or "";
    ``identifier`` an identity number (letters and digits only), ``postcode`` and ``locality``
    (a folded suburb or town name) or "" where a source has none.
    """

    family: Sequence[str]
    middle: Sequence[str]
    given: Sequence[str]
    name_key: Sequence[str]
    birth_day: NDArray[np.int64]
    birth_known: NDArray[np.bool_]
    birth_precision: Sequence[str]
    sex: Sequence[str]
    commune: Sequence[str]
    province: Sequence[str]
    address: Sequence[str]
    identifier: Sequence[str]
    postcode: Sequence[str]
    locality: Sequence[str]

    def __len__(self) -> int:
        return len(self.family)

    def take(self, index: NDArray[np.int64]) -> Records:
        def pick(column: Any) -> Any:
            return np.asarray(column, dtype=object)[index] if not isinstance(column, np.ndarray) else column[index]

        return Records(**{name: pick(getattr(self, name)) for name in self.__dataclass_fields__})


@dataclass(frozen=True)
class Column:
    """A text column as integer codes (-1: missing) into its distinct values."""

    codes: CodeArray
    values: NDArray[np.object_]

    @property
    def known(self) -> bool:
        """Whether any record holds a value."""
        return len(self.values) > 0

    @classmethod
    def of(cls, column: Sequence[str]) -> Column:
        array = np.array(column, dtype=object)
        array[array == ""] = None
        codes, values = pd.factorize(array, use_na_sentinel=True)
        return cls(codes=codes.astype(np.int32), values=np.asarray(values, dtype=object))

    def frequencies(self) -> FloatArray:
        """Share of the known values that each distinct value makes up (its term frequency)."""
        known = self.codes[self.codes >= 0]
        counts = np.bincount(known, minlength=len(self.values)).astype(np.float64)
        return counts / max(len(known), 1)


@dataclass(frozen=True)
class Encoded:
    """Records encoded once for scoring any number of pairs among them (see :func:`encode`)."""

    size: int
    text: dict[str, Column]
    birth_day: CodeArray
    birth_known: NDArray[np.bool_]
    birth_year: CodeArray
    birth_month: CodeArray
    birth_dom: CodeArray
    middle_initials: CodeArray
    middle_is_initials: NDArray[np.bool_]


def encode(records: Records) -> Encoded:
    """Integer codes of every text column and the parts of each date of birth, once per record."""
    text = {name: Column.of(getattr(records, name)) for name in _TEXT_COLUMNS}
    days = np.asarray(records.birth_day, dtype=np.int64).astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64)
    months = days.astype("datetime64[M]").astype(np.int64) - years * 12 + 1
    doms = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    middle = text["middle"]
    # Per distinct middle name: its initials ("thi minh" -> "t m") and whether it is written as initials.
    words = [str(value).split() for value in middle.values]
    initials_codes = Column.of([" ".join(word[0] for word in split) for split in words]).codes
    is_initials = np.array([all(len(word) == 1 for word in split) for split in words], dtype=bool)
    known = middle.codes >= 0
    safe = np.where(known, middle.codes, 0)
    return Encoded(
        size=len(records),
        text=text,
        birth_day=np.asarray(records.birth_day, dtype=np.int32),
        birth_known=np.asarray(records.birth_known, dtype=bool),
        birth_year=(years + 1970).astype(np.int32),
        birth_month=months.astype(np.int32),
        birth_dom=doms.astype(np.int32),
        middle_initials=np.where(known, initials_codes[safe] if len(words) else -1, -1).astype(np.int32),
        middle_is_initials=known & (is_initials[safe] if len(words) else False),
    )


DENSE_PAIRS = 1 << 26
"""Up to this many possible (value, value) pairs (and four times the pairs scored), distinct pairs
are found with a dense table."""


def _distinct_pairs(left: CodeArray, right: CodeArray, values: int) -> tuple[IndexArray, CodeArray, CodeArray] | None:
    """Each pair's index into the distinct unordered (value, value) pairs, and those pairs.

    None when the table of all possible pairs would be large next to the pairs at hand (addresses,
    or a few thousand pairs of a small file): then the similarity is computed for every pair
    directly, which costs less than finding the distinct ones.
    """
    if values * values > min(DENSE_PAIRS, 4 * len(left)):
        return None
    low, high = np.minimum(left, right), np.maximum(left, right)
    keys = low.astype(np.int64) * values + high
    seen = np.zeros(values * values, dtype=bool)
    seen[keys] = True
    distinct = np.flatnonzero(seen)
    position = np.zeros(values * values, dtype=np.int64)
    position[distinct] = np.arange(len(distinct))
    return position[keys], (distinct // values).astype(np.int32), (distinct % values).astype(np.int32)


def _similarity(column: Column, left: CodeArray, right: CodeArray, scorer: Any, cutoff: float) -> FloatArray:
    """``scorer`` of each (left, right) pair of known values, computed once per distinct pair."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float64)
    distinct = _distinct_pairs(left, right, len(column.values))
    a, b = (left, right) if distinct is None else (distinct[1], distinct[2])
    # Threads pay off from some thousands of pairs; below, starting them costs more than they save.
    workers = -1 if len(a) >= PARALLEL_FROM else 1
    # float64: rapidfuzz returns float32 by default, and 0.9 in float32 is below the threshold 0.9.
    values = cpdist(
        column.values[a], column.values[b], scorer=scorer, score_cutoff=cutoff, workers=workers, dtype=np.float64
    )
    similarity = np.asarray(values, dtype=np.float64)
    return similarity if distinct is None else similarity[distinct[0]]


def _text_level(
    column: Column, left: IndexArray, right: IndexArray, *, jaro: float | None, edits: int | None, different: int
) -> tuple[LevelArray, NDArray[np.bool_]]:
    """Level 1 (exact), 2 (similar by Jaro-Winkler >= jaro or at most edits edits) or ``different``."""
    if not column.known:  # a field no record holds (an identifier in the register)
        return np.zeros(len(left), dtype=np.int8), np.zeros(len(left), dtype=bool)
    lc, rc = column.codes[left], column.codes[right]
    known = (lc >= 0) & (rc >= 0)
    exact = known & (lc == rc)
    level = np.zeros(len(left), dtype=np.int8)
    level[known] = different
    if different > 2:
        todo = np.flatnonzero(known & ~exact)
        close = np.zeros(len(todo), dtype=bool)
        if jaro is not None:
            similarity = _similarity(column, lc[todo], rc[todo], JaroWinkler.normalized_similarity, jaro)
            close |= similarity >= jaro
        if edits is not None:
            rest = ~close
            distance = _similarity(column, lc[todo][rest], rc[todo][rest], DamerauLevenshtein.distance, edits)
            close[rest] = distance <= edits
        level[todo[close]] = 2
    level[exact] = 1
    return level, exact


def compare_indexed(encoded: Encoded, left: IndexArray, right: IndexArray) -> dict[str, LevelArray]:
    """The level of each comparison for each pair of records (``left[i]``, ``right[i]``)."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    text = encoded.text
    family, _ = _text_level(text["family"], left, right, jaro=FUZZY_NAME, edits=1, different=3)
    given, _ = _text_level(text["given"], left, right, jaro=FUZZY_NAME, edits=1, different=3)
    middle, middle_exact = _text_level(text["middle"], left, right, jaro=FUZZY_NAME, edits=1, different=4)
    # The middle name: fuzzy moves to level 3 and initials written for the full name take level 2.
    middle[middle == 2] = 3
    initials_l, initials_r = encoded.middle_initials[left], encoded.middle_initials[right]
    initials = (
        (middle != 0)
        & ~middle_exact
        & (encoded.middle_is_initials[left] | encoded.middle_is_initials[right])
        & (initials_l == initials_r)
    )
    middle[initials] = 2
    # The same words in another order (a name written given name first) is the same name.
    key_l, key_r = text["name_key"].codes[left], text["name_key"].codes[right]
    reordered = (key_l == key_r) & (key_l >= 0)
    for level in (family, middle, given):
        level[reordered & (level != 0)] = 1
    sex, _ = _text_level(text["sex"], left, right, jaro=None, edits=None, different=2)
    commune_l, commune_r = text["commune"].codes[left], text["commune"].codes[right]
    province_l, province_r = text["province"].codes[left], text["province"].codes[right]
    place = np.full(len(left), 3, dtype=np.int8)
    place[(province_l == province_r) & (province_l >= 0)] = 2
    place[(commune_l == commune_r) & (commune_l >= 0)] = 1
    place[((commune_l < 0) & (province_l < 0)) | ((commune_r < 0) & (province_r < 0))] = 0
    address, _ = _text_level(text["address"], left, right, jaro=SIMILAR_ADDRESS, edits=None, different=3)
    identifier, _ = _text_level(text["identifier"], left, right, jaro=None, edits=1, different=3)
    postcode, _ = _text_level(text["postcode"], left, right, jaro=None, edits=None, different=2)
    locality, _ = _text_level(text["locality"], left, right, jaro=FUZZY_NAME, edits=1, different=3)
    return {
        "family": family,
        "middle": middle,
        "given": given,
        "birth": _birth_levels(encoded, left, right),
        "sex": sex,
        "place": place,
        "address": address,
        "identifier": identifier,
        "postcode": postcode,
        "locality": locality,
    }


def _birth_levels(encoded: Encoded, left: IndexArray, right: IndexArray) -> LevelArray:
    precision = encoded.text["birth_precision"].codes
    day_code = np.flatnonzero(encoded.text["birth_precision"].values == "day")
    day = int(day_code[0]) if len(day_code) else -2
    precision_l, precision_r = precision[left], precision[right]
    day_l, day_r = encoded.birth_day[left], encoded.birth_day[right]
    same_year = encoded.birth_year[left] == encoded.birth_year[right]
    same_day = day_l == day_r
    same = same_day & (precision_l == precision_r) & (precision_l >= 0)
    both_days = (precision_l == day) & (precision_r == day)
    level = np.full(len(left), 6, dtype=np.int8)
    level[np.abs(day_l - day_r) <= 366] = 5
    level[same_year] = 4
    level[same] = 3
    # Day and month exchanged: only pairs of full dates in the same year need the parts.
    maybe = np.flatnonzero(same_year & both_days & ~same_day)
    first, second = left[maybe], right[maybe]
    swapped = (encoded.birth_month[first] == encoded.birth_dom[second]) & (
        encoded.birth_dom[first] == encoded.birth_month[second]
    )
    level[maybe[swapped]] = 2
    level[same & both_days] = 1
    level[~(encoded.birth_known[left] & encoded.birth_known[right])] = 0
    return level


def _records_pairwise(left: Records, right: Records) -> tuple[Encoded, IndexArray, IndexArray]:
    columns: dict[str, Any] = {}
    for name in Records.__dataclass_fields__:
        first, second = getattr(left, name), getattr(right, name)
        if isinstance(first, np.ndarray) and first.dtype != object:
            columns[name] = np.concatenate([first, second])
        else:
            columns[name] = [*map(str, first), *map(str, second)]
    both = Records(**columns)
    size = len(left)
    return encode(both), np.arange(size, dtype=np.int64), np.arange(size, 2 * size, dtype=np.int64)


def compare(left: Records, right: Records) -> dict[str, LevelArray]:
    """The level of each comparison for each pair (``left[i]``, ``right[i]``)."""
    encoded, left_index, right_index = _records_pairwise(left, right)
    return compare_indexed(encoded, left_index, right_index)


@dataclass(frozen=True)
class Parameters:
    """The trained (or default) model: the prior λ and the (m, u) pair of each level.

    With ``term_frequencies`` the exact level of the comparisons in :data:`TF_COMPARISONS` is
    weighed by the value's own frequency instead of the average: two records that share a rare
    given name are stronger evidence than two that share "Nguyễn". The exact level's ``u`` is
    replaced by the larger of the two values' frequencies in the data (at least
    :data:`TF_MINIMUM_U`), as Splink does with ``tf_adjustment_column``.
    """

    prior: float
    levels: Mapping[str, Sequence[Sequence[float]]]
    term_frequencies: bool = False

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Parameters:
        given = data["levels"]
        levels = {
            name: [list(map(float, mu)) for mu in given.get(name, DEFAULT_PARAMETERS["levels"][name])]
            for name in LEVELS
        }
        for name, values in levels.items():
            if len(values) != len(LEVELS[name]):
                raise ValueError(f"comparison {name!r} needs {len(LEVELS[name])} levels, got {len(values)}")
        return cls(
            prior=float(data["prior"]), levels=levels, term_frequencies=bool(data.get("term_frequencies", False))
        )

    def to_mapping(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "levels": {name: [list(mu) for mu in self.levels[name]] for name in LEVELS},
            "term_frequencies": self.term_frequencies,
        }

    def bounded(self, floor: float = 1e-5) -> Parameters:
        """The same model with every m and u kept within [floor, 1 - floor]."""
        levels = {
            name: [[min(max(value, floor), 1 - floor) for value in mu] for mu in values]
            for name, values in self.levels.items()
        }
        return Parameters(prior=self.prior, levels=levels, term_frequencies=self.term_frequencies)

    def weights(self, name: str) -> FloatArray:
        """Match weight (log2 Bayes factor) of each level of a comparison, level 0 (missing) = 0."""
        mu = np.asarray(self.levels[name], dtype=np.float64)
        m, u = np.clip(mu[:, 0], 1e-9, 1.0), np.clip(mu[:, 1], 1e-9, 1.0)
        return np.concatenate([[0.0], np.log2(m / u)])

    def match_weight(self, levels: Mapping[str, LevelArray]) -> FloatArray:
        total = np.full(len(next(iter(levels.values()))), np.log2(self.prior / (1.0 - self.prior)))
        for name, level in levels.items():
            total += self.weights(name)[level]
        return total

    def probability(self, levels: Mapping[str, LevelArray]) -> FloatArray:
        weight = self.match_weight(levels)
        return 1.0 / (1.0 + np.exp2(-weight))

    def tf_adjustment(
        self, encoded: Encoded, levels: Mapping[str, LevelArray], left: IndexArray, right: IndexArray
    ) -> FloatArray:
        """The term-frequency correction of each pair's match weight (0 without term frequencies)."""
        total = np.zeros(len(left), dtype=np.float64)
        if not self.term_frequencies:
            return total
        for name in TF_COMPARISONS:
            column = encoded.text[name]
            if not column.known:
                continue
            log_frequency = np.log2(np.maximum(column.frequencies(), TF_MINIMUM_U))
            # Level 1 means both values are known; a reordered name is exact with two different
            # values, and the more frequent of the two counts (as in Splink).
            exact = np.flatnonzero(levels[name] == 1)
            shared = np.maximum(log_frequency[column.codes[left[exact]]], log_frequency[column.codes[right[exact]]])
            u = float(np.clip(self.levels[name][0][1], 1e-9, 1.0))
            total[exact] += np.log2(u) - shared
        return total


def prior_weight(prior: float) -> float:
    """The match weight of the prior alone, ``log2(λ / (1 - λ))``."""
    return float(np.log2(prior / (1.0 - prior)))


def estimate_prior(weights: FloatArray, total_pairs: float, *, start: float = 1e-4, rounds: int = 200) -> float:
    """The share of all pairs that are matches, estimated without labels from the blocked pairs.

    ``weights`` are the blocked pairs' match weights without the prior; pairs that blocking did
    not compare are taken as non-matches. Expectation maximisation of λ alone: each round sets λ
    to the expected number of matches (the sum of the pairs' probabilities under the current λ)
    over all pairs, until it settles.
    """
    prior = start
    if total_pairs <= 0 or len(weights) == 0:
        return prior
    for _ in range(rounds):
        expected = float(np.sum(1.0 / (1.0 + np.exp2(-(weights + prior_weight(prior))))))
        updated = min(max(expected / total_pairs, 1e-12), 0.5)
        if abs(updated - prior) <= 1e-6 * prior:
            return updated
        prior = updated
    return prior


def load_parameters() -> Parameters:
    """The shipped trained parameters when present, else :data:`DEFAULT_PARAMETERS`."""
    resource = files("popreg.matching") / "data" / "parameters.json"
    if resource.is_file():
        return Parameters.from_mapping(json.loads(resource.read_text(encoding="utf-8")))
    return Parameters.from_mapping(DEFAULT_PARAMETERS)


def score_indexed(
    encoded: Encoded, left: IndexArray, right: IndexArray, parameters: Parameters | None = None
) -> tuple[FloatArray, dict[str, LevelArray]]:
    """Match probability of each pair of encoded records (``left[i]``, ``right[i]``) and its levels."""
    model = parameters or load_parameters()
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    levels = compare_indexed(encoded, left, right)
    weight = model.match_weight(levels) + model.tf_adjustment(encoded, levels, left, right)
    return 1.0 / (1.0 + np.exp2(-weight)), levels


def score_pairs(
    left: Records, right: Records, parameters: Parameters | None = None
) -> tuple[FloatArray, dict[str, LevelArray]]:
    """Match probability of each pair (``left[i]``, ``right[i]``) and the levels behind it."""
    encoded, left_index, right_index = _records_pairwise(left, right)
    return score_indexed(encoded, left_index, right_index, parameters)
