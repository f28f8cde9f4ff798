"""Vietnamese names and addresses brought to the forms that record matching compares.

Records of one person reach the register in many spellings: with or without diacritics
("Nguyễn Thị Hoà" / "NGUYEN THI HOA"), decomposed Unicode from some keyboards, the name in the
Western order of a foreign form ("Hoa Nguyen Thi"), a middle name cut to its initial ("Nguyễn T.
Hoa"), and addresses full of abbreviations ("P.5, Q.3, TP.HCM" for "Phường 5, Quận 3, Thành phố Hồ
Chí Minh") or still on the units in force before 1 July 2025. Matching compares the folded forms
(:func:`popreg.kit.text.fold`: no diacritics, đ as d, lower case), with the name split into
family, middle and given name in the Vietnamese order and the address's unit moved to the current
(2025) unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from popreg.kit.text import fold
from popreg.units.catalogue import UnitGeneration, UnitLevel, get_unit, to_current

# The most frequent Vietnamese family names (folded); together they cover more than nine in ten
# people. A name whose first word is not one of them but a later word is was written given name
# first, as foreign forms and some agencies' systems do. "Văn", a family name but far more often a
# middle name, is left out.
FAMILY_NAMES = frozenset(
    "nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly dao dinh mai trinh truong "
    "lam luong luu ta cao ha quach thai kieu chu ton tang doan trieu khuc lai thach mac au lu "
    "giang tieu vuong nong".split()
)


@dataclass(frozen=True, slots=True)
class NameParts:
    """A folded name in Vietnamese order: family name, middle name(s), given name."""

    family: str
    middle: str
    given: str

    @property
    def full(self) -> str:
        return " ".join(part for part in (self.family, self.middle, self.given) if part)

    @property
    def key(self) -> str:
        """The name's words sorted: equal for two orders of the same words."""
        return " ".join(sorted(self.full.split()))


def fold_name(text: str) -> str:
    """The folded form of a name: ``fold("Nguyễn  T. Hoà") == "nguyen t hoa"``."""
    return fold(text)


def vietnamese_order(words: list[str]) -> list[str]:
    """Words of a folded name put family name first when they were written given name first.

    "hoa nguyen thi" and "minh khai nguyen thi" become "nguyen thi hoa" and "nguyen thi minh khai":
    the words from the first known family name on are moved to the front.
    """
    if len(words) < 2 or words[0] in FAMILY_NAMES:
        return words
    for index in range(1, len(words)):
        if words[index] in FAMILY_NAMES:
            return [*words[index:], *words[:index]]
    return words


def split_name(full_name: str) -> NameParts:
    """Fold a full name and split it: family first, given last, the rest middle.

    ``split_name("Hoa Nguyen Thi")`` gives family "nguyen", middle "thi", given "hoa": the family
    name written last is moved to the front. A one-word name is a given name only.
    """
    words = vietnamese_order(fold_name(full_name).split())
    if not words:
        return NameParts("", "", "")
    if len(words) == 1:
        return NameParts("", "", words[0])
    return NameParts(words[0], " ".join(words[1:-1]), words[-1])


def name_order_variants(full_name: str) -> list[str]:
    """The folded full name in the orders it may be registered under, the given order first.

    "Nguyễn Thị Minh Khai" may be found as "nguyen thi minh khai" or, written given name first,
    "khai nguyen thi minh" and "minh khai nguyen thi"; "Khai Nguyễn Thị Minh" is registered as
    "nguyen thi minh khai".
    """
    words = fold_name(full_name).split()
    if len(words) < 2:
        return [" ".join(words)] if words else []
    variants = [words, vietnamese_order(words), [words[-1], *words[:-1]], [*words[1:], words[0]]]
    if len(words) >= 3:
        variants.append([*words[2:], *words[:2]])
    unique: list[str] = []
    for variant in variants:
        text = " ".join(variant)
        if text not in unique:
            unique.append(text)
    return unique


def initials_agree(short: str, long: str) -> bool:
    """Whether one middle name is the initials of the other ("t" / "thi", "t m" / "thi minh")."""
    short_words, long_words = short.split(), long.split()
    if len(short_words) != len(long_words) or not short_words:
        return False
    if not all(len(word) == 1 for word in short_words):
        return False
    return all(word[0] == initial for initial, word in zip(short_words, long_words, strict=True))


# -- addresses ----------------------------------------------------------------------------------

# Abbreviations written before a unit's name, folded ("tp." -> "tp"), and the type word they stand for.
_UNIT_WORDS = {
    "tp": "thanh pho",
    "thanh pho": "thanh pho",
    "t p": "thanh pho",
    "q": "quan",
    "quan": "quan",
    "p": "phuong",
    "f": "phuong",
    "phuong": "phuong",
    "tx": "thi xa",
    "thi xa": "thi xa",
    "tt": "thi tran",
    "thi tran": "thi tran",
    "h": "huyen",
    "huyen": "huyen",
    "x": "xa",
    "xa": "xa",
    "t": "tinh",
    "tinh": "tinh",
    "dk": "dac khu",
    "dac khu": "dac khu",
}
_ABBREVIATED_CITIES = {"hcm": "ho chi minh", "tphcm": "thanh pho ho chi minh", "hn": "ha noi"}
_NUMBER = re.compile(r"\b0+(\d)")
_STREET_WORDS = {"so": "so", "sn": "so", "duong": "duong", "d": "duong", "ng": "ngo", "ngo": "ngo", "kp": "khu pho"}


def normalise_address(text: str) -> str:
    """The comparable form of an address line: folded, abbreviations written out, numbers unpadded.

    ``normalise_address("Số 12, P.5, Q.3, TP.HCM")`` and
    ``normalise_address("so 12 Phường 05 Quận 3 Thành phố Hồ Chí Minh")`` are both
    ``"so 12 phuong 5 quan 3 thanh pho ho chi minh"``.
    """
    lowered = fold(text.replace(".", ". "))
    words = lowered.split()
    expanded: list[str] = []
    for word in words:
        if word in _ABBREVIATED_CITIES:
            expanded.extend(_ABBREVIATED_CITIES[word].split())
            continue
        glued = re.fullmatch(r"(tp|q|p|f|tx|tt|h|x)(\d+|[a-z]{3,})", word)
        if glued and glued.group(1) in {"q", "p", "f"} and glued.group(2).isdigit():
            expanded.extend([_UNIT_WORDS[glued.group(1)], glued.group(2)])
            continue
        if glued and glued.group(1) == "tp" and glued.group(2) in _ABBREVIATED_CITIES:
            expanded.extend(["thanh", "pho", *_ABBREVIATED_CITIES[glued.group(2)].split()])
            continue
        expanded.append(word)
    result: list[str] = []
    index = 0
    while index < len(expanded):
        word = expanded[index]
        following = expanded[index + 1] if index + 1 < len(expanded) else ""
        if word in {"tp", "q", "p", "f", "tx", "tt", "h", "x", "dk"} and following:
            result.extend(_UNIT_WORDS[word].split())
        elif word in {"sn", "d", "ng", "kp"} and following:
            result.extend(_STREET_WORDS[word].split())
        else:
            result.append(word)
        index += 1
    text_out = " ".join(result)
    text_out = re.sub(r"\bthanh pho thanh pho\b", "thanh pho", text_out)
    return _NUMBER.sub(r"\1", text_out)


def normalise_identifier(text: str) -> str:
    """An identity number or postcode as compared: letters and digits only, upper case.

    ``"012 345-678"``, ``"012.345.678"`` and ``"012345678"`` are the same number.
    """
    return "".join(character for character in text.upper() if character.isalnum())


def address_tokens(text: str) -> frozenset[str]:
    """The words of a normalised address, for comparing two addresses as sets of words."""
    return frozenset(normalise_address(text).split())


def current_commune(unit_code: str | None, generation: str | None = None) -> str | None:
    """The 2025 commune of an address's unit, whatever generation it was recorded on.

    A 2025 commune code is kept; a pre-2025 commune becomes the 2025 commune its territory went
    to (the first of the conversion table when it was split). ``generation`` ("pre2025" or "2025")
    settles a code that exists in both lists; without it a code of the 2025 list is taken as such.
    """
    if not unit_code:
        return None
    if generation != UnitGeneration.PRE_2025.value and get_unit(unit_code, UnitGeneration.Y2025) is not None:
        return unit_code
    current = to_current(unit_code, UnitLevel.COMMUNE)
    return current[0].code if current else None


def current_province(unit_code: str | None, generation: str | None = None) -> str | None:
    """The 2025 province of an address's commune (see :func:`current_commune`)."""
    commune = current_commune(unit_code, generation)
    unit = get_unit(commune, UnitGeneration.Y2025) if commune else None
    return unit.province_code if unit else None
