"""Plausible Vietnamese address lines, built column-wise from small word tables.

An address line holds what comes before the commune: in a ward, a house number, sometimes an
alley, and a street ("Số 12, ngõ 45, phố Lê Lợi"; in the south "hẻm" and "đường"); in a rural
commune, the village ("Thôn Đông", "Xóm 3", "Ấp Mỹ Hòa", "Bản Nà Sản", "Buôn ..."). The commune
itself is carried by the unit code beside the line. Words differ by region, following the usage of
the 2025 province. Every combination is invented; no real address is reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from popreg.synth.arrays import IntArray
from popreg.synth.columns import from_vocabulary, join
from popreg.synth.frequencies import address_words
from popreg.synth.geography import commune_frame


@dataclass(frozen=True)
class _AddressTables:
    style_of_commune: IntArray
    village_words: pa.StringArray
    """Per style, ``_WORDS_PER_STYLE`` village words with a trailing space ("Thôn ")."""
    alley_words: pa.StringArray
    """Per style, the alley prefix (", ngõ "), after an empty string at index 0."""
    street_words: pa.StringArray
    """Per style, ``_WORDS_PER_STYLE`` street prefixes (", phố "), after an empty string at index 0."""
    street_names: pa.StringArray
    village_names: pa.StringArray


_WORDS_PER_STYLE = 3


def _cycle(words: list[str]) -> list[str]:
    """Repeat a style's words to a fixed width, so that a word is picked by ``style * width + k``."""
    return [words[k % len(words)] for k in range(_WORDS_PER_STYLE)]


@cache
def _tables() -> _AddressTables:
    words = address_words()
    frame = commune_frame()
    style_names = list(words.styles)
    style_of_province = np.array(
        [
            style_names.index(words.style_by_current_province.get(code, words.default_style))
            for code in frame.current_province_list
        ],
        dtype=np.int64,
    )
    village: list[str] = []
    street: list[str] = [""]
    alley: list[str] = [""]
    for name in style_names:
        style = words.styles[name]
        village += [word + " " for word in _cycle(style["village"])]
        street += [f", {word} " for word in _cycle(style["street"])]
        alley.append(f", {style['alley']} ")
    return _AddressTables(
        style_of_commune=style_of_province[frame.current_province],
        village_words=pa.array(village, pa.string()),
        alley_words=pa.array(alley, pa.string()),
        street_words=pa.array(street, pa.string()),
        street_names=pa.array([""] + list(words.street_names), pa.string()),
        village_names=pa.array(words.village_names, pa.string()),
    )


def address_lines(rng: np.random.Generator, current_commune: IntArray) -> pa.StringArray:
    """One invented address line for each given 2025 commune (an index into the commune frame)."""
    tables = _tables()
    words = address_words()
    frame = commune_frame()
    size = len(current_commune)
    urban = frame.current_urban[current_commune]
    style = tables.style_of_commune[current_commune]
    word = rng.integers(0, _WORDS_PER_STYLE, size)
    house = pa.array(rng.integers(1, 300, size)).cast(pa.string())
    has_alley = urban & (rng.random(size) < words.alley_share)
    alley_number = pa.array(rng.integers(1, 200, size)).cast(pa.string())
    numbered = rng.random(size) < words.numbered_village_share
    village_number = pa.array(rng.integers(1, 16, size)).cast(pa.string())
    village_name = from_vocabulary(tables.village_names, rng.integers(0, len(tables.village_names), size))
    street_name = rng.integers(1, len(tables.street_names), size)

    first = pc.if_else(
        pa.array(urban), pa.scalar("Số "), from_vocabulary(tables.village_words, style * _WORDS_PER_STYLE + word)
    )
    second = pc.if_else(pa.array(urban), house, pc.if_else(pa.array(numbered), village_number, village_name))
    alley = from_vocabulary(tables.alley_words, np.where(has_alley, style + 1, 0))
    alley_digits = pc.if_else(pa.array(has_alley), alley_number, pa.scalar(""))
    street = from_vocabulary(tables.street_words, np.where(urban, 1 + style * _WORDS_PER_STYLE + word, 0))
    name = from_vocabulary(tables.street_names, np.where(urban, street_name, 0))
    return join(first, second, alley, alley_digits, street, name)
