"""Vietnamese names drawn by ethnic group, sex and decade of birth, and their realistic misspellings.

A name is written family name, middle name(s), given name ("Nguyễn Thị Minh Khai"); the middle
name may be empty. Names are held as indices into small vocabularies, and every string form the
register needs is computed once per vocabulary entry and gathered with Arrow ``take``: the name as
registered (NFC), its folded search key (:func:`popreg.kit.text.fold`), and the name without
diacritics. Joining the gathered parts gives, for a million persons, the same strings as calling
``fold`` a million times, at a fraction of the cost.

For duplicate records with defects each vocabulary is extended with misspelt variants of every
entry, the mistakes clerks actually make in Vietnamese names: a wrong or missing tone mark ("Húng"
or "Hung" for "Hùng"), the l/n confusion of northern speech, i/y, s/x, d/gi, ch/tr, a dropped
final "g" ("Hoàn" for "Hoàng"), two letters transposed, a letter dropped or doubled.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from popreg.kit.text import fold, strip_diacritics
from popreg.synth.arrays import BoolArray, IntArray
from popreg.synth.columns import from_vocabulary, join
from popreg.synth.frequencies import name_tables

TYPO_VARIANTS = 4
"""Misspelt variants per vocabulary entry; variant ``k`` of entry ``v`` has index ``V + v * 4 + k``."""
_TYPO_SEED = 84
_TONE_MARKS = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_CONFUSIONS = (
    ("l", "n"),
    ("n", "l"),
    ("y", "i"),
    ("i", "y"),
    ("s", "x"),
    ("x", "s"),
    ("gi", "d"),
    ("d", "gi"),
    ("tr", "ch"),
    ("ch", "tr"),
    ("ng", "n"),
    ("nh", "n"),
)


@dataclass(frozen=True)
class NamePart:
    """The string forms of one vocabulary (family, middle or given names), misspellings included.

    Every array has ``V * (1 + TYPO_VARIANTS)`` entries: the vocabulary, then the variants.
    ``spaced`` and ``folded_spaced`` end with a space unless the entry is empty (an absent middle
    name), so that joining family, middle and given parts never doubles a space.
    """

    size: int
    plain: pa.StringArray
    spaced: pa.StringArray
    stripped: pa.StringArray
    stripped_spaced: pa.StringArray
    folded_spaced: pa.StringArray
    folded: pa.StringArray


def _retone(word: str, rng: np.random.Generator) -> str:
    """Change, drop or add the tone mark, keeping the vowel's own mark (â, ê, ô, ơ, ư, ă)."""
    decomposed = unicodedata.normalize("NFD", word)
    marks = [i for i, ch in enumerate(decomposed) if ch in _TONE_MARKS]
    if marks:
        position = marks[0]
        current = decomposed[position]
        decomposed = decomposed[:position] + decomposed[position + 1 :]
        choices = [mark for mark in (*_TONE_MARKS, "") if mark != current]
    else:
        vowels = [i for i, ch in enumerate(decomposed) if ch.lower() in "aeiouy"]
        if not vowels:
            return word
        position = vowels[-1] + 1
        choices = list(_TONE_MARKS)
    # A tone mark placed after the vowel's own mark composes with it into one letter under NFC.
    while position < len(decomposed) and unicodedata.combining(decomposed[position]):
        position += 1
    tone = choices[int(rng.integers(len(choices)))]
    return unicodedata.normalize("NFC", decomposed[:position] + tone + decomposed[position:])


def _confuse(word: str, rng: np.random.Generator) -> str:
    lower = word.lower()
    options = [(a, b) for a, b in _CONFUSIONS if a in lower]
    if not options:
        return word
    a, b = options[int(rng.integers(len(options)))]
    i = lower.index(a)
    replaced = word[:i] + b + word[i + len(a) :]
    return replaced[:1].upper() + replaced[1:] if word[:1].isupper() else replaced


def _transpose(word: str, rng: np.random.Generator) -> str:
    if len(word) < 3:
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _drop_or_double(word: str, rng: np.random.Generator) -> str:
    if len(word) < 3:
        return word + word[-1:]
    i = int(rng.integers(1, len(word)))
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + word[i] + word[i:]


_MISTAKES = (_retone, _confuse, _transpose, _drop_or_double)


def misspellings(name: str, rng: np.random.Generator) -> list[str]:
    """``TYPO_VARIANTS`` misspelt forms of ``name``, each differing from it (one mistake each).

    A multi-word entry ("Thị Ngọc") is misspelt in one of its words. An empty entry stays empty.
    """
    if not name:
        return [name] * TYPO_VARIANTS
    words = name.split(" ")
    variants: list[str] = []
    for k in range(TYPO_VARIANTS):
        w = int(rng.integers(len(words)))
        changed = name
        for attempt in range(len(_MISTAKES)):
            mistake = _MISTAKES[(k + attempt) % len(_MISTAKES)]
            candidate = mistake(words[w], rng)
            if candidate != words[w]:
                changed = " ".join([*words[:w], candidate, *words[w + 1 :]])
                break
        variants.append(unicodedata.normalize("NFC", changed))
    return variants


def _part(vocabulary: tuple[str, ...], rng: np.random.Generator) -> NamePart:
    entries = list(vocabulary)
    for name in vocabulary:
        entries += misspellings(name, rng)
    stripped = [strip_diacritics(entry) for entry in entries]
    folded = [fold(entry) for entry in entries]

    def spaced(values: list[str]) -> pa.StringArray:
        return pa.array([value + " " if value else "" for value in values], pa.string())

    return NamePart(
        size=len(vocabulary),
        plain=pa.array(entries, pa.string()),
        spaced=spaced(entries),
        stripped=pa.array(stripped, pa.string()),
        stripped_spaced=spaced(stripped),
        folded_spaced=spaced(folded),
        folded=pa.array(folded, pa.string()),
    )


@dataclass(frozen=True)
class NameParts:
    """The three vocabularies with all their string forms; ``empty_middle`` is the absent middle name.

    ``middle_given`` and ``middle_given_folded`` hold every pair of a correctly spelt middle and
    given name ("Văn An", or "An" without a middle name) at index ``middle * given.size + given``,
    so that a full name is one join of two parts.
    """

    family: NamePart
    middle: NamePart
    given: NamePart
    empty_middle: int
    middle_given: pa.StringArray
    middle_given_folded: pa.StringArray


@cache
def name_parts() -> NameParts:
    """The name vocabularies and their misspellings, built once per process (a few hundred entries)."""
    tables = name_tables()
    rng = np.random.default_rng(_TYPO_SEED)
    middle, given = tables.middle_names, tables.given_names
    folded_given = [fold(name) for name in given]
    return NameParts(
        family=_part(tables.family_names, rng),
        middle=_part(middle, rng),
        given=_part(given, rng),
        empty_middle=middle.index(""),
        middle_given=pa.array([f"{m} {g}" if m else g for m in middle for g in given], pa.string()),
        middle_given_folded=pa.array([f"{fold(m)} {g}" if m else g for m in middle for g in folded_given], pa.string()),
    )


@dataclass(frozen=True)
class NameIndices:
    """Each person's family, middle and given name as vocabulary indices."""

    family: IntArray
    middle: IntArray
    given: IntArray


def draw_names(
    rng: np.random.Generator, ethnic_group: IntArray, female: BoolArray, birth_year: IntArray
) -> NameIndices:
    """Names for persons of the given ethnic groups (indices 0-53), sexes and years of birth.

    Family names follow the person's group; middle and given names follow sex and decade of birth:
    the share of Văn and Thị, and of classic given names, falls for later births.
    """
    tables = name_tables()
    size = len(ethnic_group)
    naming_class = tables.family_class_of_group[ethnic_group]
    family = tables.family.draw(rng.random(size), naming_class)

    sex = female.astype(np.int64)
    traditional_share = np.where(
        female,
        tables.traditional_middle_share[1].at(birth_year),
        tables.traditional_middle_share[0].at(birth_year),
    )
    middle_row = sex * 2 + (rng.random(size) < traditional_share)
    given_row = sex * 2 + (rng.random(size) < tables.modern_given_share.at(birth_year))
    middle = tables.middle.draw(rng.random(size), middle_row)
    given = tables.given.draw(rng.random(size), given_row)
    return NameIndices(family=family, middle=middle, given=given)


@dataclass(frozen=True)
class NameColumns:
    """The name columns of the persons table."""

    full_name: pa.StringArray
    name_folded: pa.StringArray
    family_name: pa.StringArray
    middle_name: pa.StringArray
    given_name: pa.StringArray


def _take(values: pa.StringArray, indices: IntArray) -> pa.StringArray:
    return from_vocabulary(values, indices)


def name_columns(names: NameIndices, stripped: BoolArray | None = None) -> NameColumns:
    """The name strings of each person; where ``stripped`` is true, written without diacritics.

    The folded key ignores diacritics anyway, so it is the same with or without them.
    """
    parts = name_parts()
    family, middle, given = parts.family, parts.middle, parts.given
    family_name = _take(family.plain, names.family)
    middle_name = _take(middle.plain, names.middle)
    given_name = _take(given.plain, names.given)
    correctly_spelt = len(names.family) == 0 or (names.middle.max() < middle.size and names.given.max() < given.size)
    if correctly_spelt:
        pair = names.middle * given.size + names.given
        full = join(_take(family.spaced, names.family), _take(parts.middle_given, pair))
        folded = join(_take(family.folded_spaced, names.family), _take(parts.middle_given_folded, pair))
    else:
        full = join(_take(family.spaced, names.family), _take(middle.spaced, names.middle), given_name)
        folded = join(
            _take(family.folded_spaced, names.family),
            _take(middle.folded_spaced, names.middle),
            _take(given.folded, names.given),
        )
    if stripped is not None and stripped.any():
        mask = pa.array(stripped)
        full = pc.if_else(
            mask,
            join(
                _take(family.stripped_spaced, names.family),
                _take(middle.stripped_spaced, names.middle),
                _take(given.stripped, names.given),
            ),
            full,
        )
        family_name = pc.if_else(mask, _take(family.stripped, names.family), family_name)
        middle_name = pc.if_else(mask, _take(middle.stripped, names.middle), middle_name)
        given_name = pc.if_else(mask, _take(given.stripped, names.given), given_name)
    return NameColumns(full, folded, family_name, middle_name, given_name)
