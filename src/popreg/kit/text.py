"""Vietnamese text normalisation for names and addresses.

Vietnamese is written with a Latin alphabet carrying two layers of diacritics: vowel marks
(ă, â, ê, ô, ơ, ư) and five tone marks, plus the letter đ/Đ, which is a separate letter and not a
``d`` with a combining mark, so Unicode decomposition alone does not fold it. The same name can
reach the register precomposed (NFC), decomposed (NFD, common from macOS keyboards), with tone
marks placed on a different vowel ("hoà" / "hòa"), in upper case, or with stray spacing.

Two forms are used across the platform:

* :func:`canonical` keeps every diacritic and the tone placement: it is what is stored as the name
  "exactly as registered", only cleaned of invisible differences (Unicode form, spacing).
* :func:`fold` removes every diacritic and the case: it is the key of accent-insensitive search and
  of record matching, so that "Nguyễn Thị Hoà", "NGUYEN THI HOA" and "nguyen  thi hòa" agree.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_D_STROKE = str.maketrans({"đ": "d", "Đ": "D"})
_FOLD_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)

# Old-style ("oà") and new-style ("òa") tone placement are both correct Vietnamese; a register
# compares names, so one placement is chosen: the new style of the 1980 orthography, tone mark on
# the main vowel (òa, òe, ùy), which is what the national keyboard layouts produce today.
_TONE_PLACEMENT = {
    "oà": "òa",
    "oá": "óa",
    "oả": "ỏa",
    "oã": "õa",
    "oạ": "ọa",
    "oè": "òe",
    "oé": "óe",
    "oẻ": "ỏe",
    "oẽ": "õe",
    "oẹ": "ọe",
    "uỳ": "ùy",
    "uý": "úy",
    "uỷ": "ủy",
    "uỹ": "ũy",
    "uỵ": "ụy",
}
_TONE_PLACEMENT.update({k.upper(): v.upper() for k, v in list(_TONE_PLACEMENT.items())})
_TONE_PLACEMENT.update(
    {k[0].upper() + k[1]: v[0].upper() + v[1] for k, v in list(_TONE_PLACEMENT.items()) if k.islower()}
)
_TONE_PATTERN = re.compile("|".join(sorted(_TONE_PLACEMENT, key=len, reverse=True)) + r"(?=\b|\W|$)")


def collapse_spaces(text: str) -> str:
    """Trim the text and turn every run of white space into one space."""
    return _SPACES.sub(" ", text).strip()


def canonical(text: str) -> str:
    """The stored form of a name or address: NFC and single spaces.

    Diacritics, tone placement and case are kept exactly as written, so the registered name is
    preserved; only differences a reader cannot see are removed.
    """
    return unicodedata.normalize("NFC", collapse_spaces(text))


def unify_tone_placement(text: str) -> str:
    """Move tone marks to one placement ("hoà" -> "hòa") for diacritic-sensitive comparison."""
    return _TONE_PATTERN.sub(lambda m: _TONE_PLACEMENT[m.group(0)], canonical(text))


def _decompose_fully(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_D_STROKE))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


def _base_letters() -> dict[int, str]:
    """Every precomposed Latin letter (the blocks Vietnamese uses) mapped to its letter without marks."""
    table = {ord(letter): base for letter, base in (("đ", "d"), ("Đ", "D"))}
    for code in (*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)):
        base = _decompose_fully(chr(code))
        if base != chr(code) and base:
            table[code] = base
    return table


_BASE_LETTERS = _base_letters()


def strip_diacritics(text: str) -> str:
    """Remove vowel and tone marks and turn đ into d, keeping case and punctuation.

    Runs on every verification, so the common cases take a table lookup per character: ASCII text
    is returned as it is, and precomposed letters map straight to their base letter; only what is
    left outside ASCII (decomposed marks on other scripts' letters) takes the full decomposition.
    """
    if text.isascii():
        return text
    stripped = unicodedata.normalize("NFC", text).translate(_BASE_LETTERS)
    if stripped.isascii():
        return stripped
    return _decompose_fully(stripped)


def fold(text: str) -> str:
    """The accent- and case-insensitive key of a name or address.

    Diacritics removed, đ as d, lower case, punctuation as a space, spaces collapsed:
    ``fold("  Nguyễn  Thị HOÀ ") == "nguyen thi hoa"``, ``fold("Đắk Lắk") == "dak lak"``,
    ``fold("Bà Rịa - Vũng Tàu") == "ba ria vung tau"``.
    """
    plain = strip_diacritics(text).casefold()
    return collapse_spaces(_FOLD_PUNCTUATION.sub(" ", plain).replace("_", " "))


def title_name(text: str) -> str:
    """Capitalise each word of a Vietnamese personal name as the civil-status register writes it."""
    return " ".join(word[:1].upper() + word[1:].lower() for word in canonical(text).split(" ") if word)


def split_full_name(full_name: str) -> tuple[str, str, str]:
    """Split a Vietnamese full name into family, middle and given name.

    Vietnamese names are written family name first and given name last, with zero or more middle
    names between ("Nguyễn Thị Minh Khai": family "Nguyễn", middle "Thị Minh", given "Khai").
    A one-word name is taken as a given name only (some ethnic minorities register one name).
    """
    words = canonical(full_name).split(" ")
    words = [w for w in words if w]
    if not words:
        return "", "", ""
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]
