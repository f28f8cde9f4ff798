"""The catalogue of Vietnam's administrative units and the conversion of pre-2025 units.

Facts the catalogue relies on:

* Units are identified by the statistics office's codes, written as strings with their leading
  zeros: provinces 2 digits ("01"), districts 3 digits ("001"), communes 5 digits ("00004").
  Within one generation a code names one unit and the lengths keep the levels apart; across the
  reform a code may name another unit ("00004" is Phường Trúc Bạch before 1 July 2025 and
  Phường Ba Đình after), so a stored code always goes with its generation.
* Until 30 June 2025 local government had three levels: 63 provinces (provinces "Tỉnh" and
  centrally-run cities "Thành phố"), districts (urban districts "Quận", rural districts "Huyện",
  towns "Thị xã", provincial cities "Thành phố") and communes (wards "Phường", communes "Xã",
  townships "Thị trấn").
* From 1 July 2025 Resolution 202/2025/QH15 merged the 63 provinces into 34, and the 2025 Law on
  Organisation of Local Government abolished the district level: local government has two levels,
  province and commune (wards "Phường", communes "Xã" and special zones "Đặc khu"). The communes
  were rearranged at the same date by resolutions of the National Assembly Standing Committee,
  giving 3,321 communes.
* Each of the 34 provinces kept the code of one of the provinces it was formed from, so the 2025
  province codes are a subset of the 63 pre-2025 codes. The personal identification number (PIN)
  carries the 63-province code of the place where the birth was registered (Circular 07/2016/TT-BCA,
  Appendix 1, zero-padded to 3 digits) and is permanent, so every pre-2025 province code stays
  meaningful forever.
* An address recorded before the reform stays valid as recorded; :func:`to_current` gives the
  2025 unit(s) its unit became part of. A pre-2025 commune may have been split between several new
  communes: the conversion then lists them all, best match first, and a person must pick the right
  one from the street address.

The data is a file of facts shipped with popreg (``data/README.md`` cites its source). It is loaded
lazily, once per process, and indexed in dictionaries so that every lookup is a dictionary access.
"""

from __future__ import annotations

import gzip
import json
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any

from popreg.kit.errors import InvalidInput
from popreg.kit.text import fold

__all__ = [
    "Unit",
    "UnitGeneration",
    "UnitLevel",
    "UnknownUnitError",
    "children",
    "communes",
    "get_unit",
    "is_within",
    "pin_province_code",
    "provinces",
    "require_unit",
    "search_units",
    "to_current",
]


class UnitGeneration(StrEnum):
    """Which reform a unit code belongs to.

    ``PRE_2025``: the units in force until 30 June 2025 (63 provinces, districts, communes).
    ``Y2025``: the units in force from 1 July 2025 (34 provinces, communes; no districts).
    """

    PRE_2025 = "pre2025"
    Y2025 = "2025"


class UnitLevel(StrEnum):
    """Level of local government; the district level exists only before 1 July 2025."""

    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


@dataclass(frozen=True, slots=True)
class Unit:
    """One administrative unit of one generation.

    ``name`` is the official Vietnamese name with its type word ("Phường Ba Đình"), ``short_name``
    the name without it ("Ba Đình"), ``kind`` the type word ("Phường", "Xã", "Đặc khu", "Tỉnh",
    "Thành phố", "Quận", "Huyện", "Thị xã", "Thị trấn"). ``parent_code`` is the unit one level up
    (the province of a 2025 commune, the district of a pre-2025 commune), ``None`` for a province;
    ``province_code`` is the unit's province (its own code for a province).
    """

    code: str
    name: str
    short_name: str
    kind: str
    level: UnitLevel
    generation: UnitGeneration
    parent_code: str | None
    province_code: str


class UnknownUnitError(InvalidInput, ValueError):
    """The code names no administrative unit of that generation in the statistics office's list."""

    code = "UNIT_UNKNOWN"

    def __init__(self, unit_code: str, generation: UnitGeneration) -> None:
        super().__init__(
            f"No administrative unit has code {unit_code!r} in the {generation.value} list of units.",
            details={"unit_code": unit_code, "generation": generation.value},
        )
        self.unit_code = unit_code
        self.generation = generation


# -- loading and indexing ---------------------------------------------------------------------

_LEVEL_ORDER = {UnitLevel.PROVINCE: 0, UnitLevel.DISTRICT: 1, UnitLevel.COMMUNE: 2}
_GENERATION_ORDER = {UnitGeneration.Y2025: 0, UnitGeneration.PRE_2025: 1}
_FILES = {UnitGeneration.Y2025: "units-2025.json.gz", UnitGeneration.PRE_2025: "units-pre2025.json.gz"}


def _read(name: str) -> Any:
    raw = (files("popreg.units") / "data" / name).read_bytes()
    return json.loads(gzip.decompress(raw))


@dataclass(slots=True)
class _Prefixes:
    """Folded names sorted for prefix search by bisection, ``units`` parallel to ``keys``."""

    keys: list[str] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)

    def starting_with(self, key: str) -> Iterator[Unit]:
        i = bisect_left(self.keys, key)
        while i < len(self.keys) and self.keys[i].startswith(key):
            yield self.units[i]
            i += 1


def _prefixes(pairs: list[tuple[str, Unit]]) -> _Prefixes:
    pairs.sort(key=lambda pair: (pair[0], pair[1].code))
    return _Prefixes([key for key, _ in pairs], [unit for _, unit in pairs])


@dataclass(slots=True)
class _Bucket:
    """Units of one level (and one province, or the whole country), ready for name search.

    ``short`` indexes the folded names without the type word ("ba dinh"), ``full`` the folded
    full names ("phuong ba dinh"). ``names`` holds each unit once with its folded full name, in
    code order; for substring search they are also joined by newlines into ``blob``, ``starts``
    giving where each name begins (a folded name never contains a newline).
    """

    names: list[tuple[str, Unit]] = field(default_factory=list)
    short: _Prefixes = field(default_factory=_Prefixes)
    full: _Prefixes = field(default_factory=_Prefixes)
    blob: str = ""
    starts: list[int] = field(default_factory=list)

    def index(self) -> None:
        self.short = _prefixes([(fold(unit.short_name), unit) for _, unit in self.names])
        self.full = _prefixes(list(self.names))
        offset = 0
        for name, _unit in self.names:
            self.starts.append(offset)
            offset += len(name) + 1
        self.blob = "\n".join(name for name, _unit in self.names)

    def containing(self, key: str) -> Iterator[Unit]:
        """Units whose folded full name contains ``key``, in code order (``str.find`` over the blob)."""
        position = self.blob.find(key)
        while position >= 0:
            index = bisect_right(self.starts, position) - 1
            yield self.names[index][1]
            if index + 1 >= len(self.starts):
                return
            position = self.blob.find(key, self.starts[index + 1])


@dataclass(slots=True)
class _Generation:
    by_code: dict[str, Unit]
    children: dict[str, list[Unit]]
    by_level: dict[UnitLevel, list[Unit]]
    exact: dict[str, list[Unit]]
    buckets: dict[tuple[UnitLevel, str | None], _Bucket]


def _short_name(name: str, kind: str) -> str:
    prefix = kind + " "
    return name[len(prefix) :] if name.startswith(prefix) else name


@cache
def _generation(generation: UnitGeneration) -> _Generation:
    payload = _read(_FILES[generation])
    by_code: dict[str, Unit] = {}
    by_level: dict[UnitLevel, list[Unit]] = {}
    for level in UnitLevel:  # provinces first, so that a parent is always known before its children
        rows = payload.get(level.value, [])
        units = []
        for row in rows:
            code, name, kind = row[0], row[1], row[2]
            parent = row[3] if len(row) > 3 else None
            province = code if parent is None else by_code[parent].province_code
            unit = Unit(code, name, _short_name(name, kind), kind, level, generation, parent, province)
            by_code[code] = unit
            units.append(unit)
        if units:
            by_level[level] = units

    children: dict[str, list[Unit]] = {}
    exact: dict[str, list[Unit]] = {}
    buckets: dict[tuple[UnitLevel, str | None], _Bucket] = {}
    for unit in by_code.values():
        if unit.parent_code is not None:
            children.setdefault(unit.parent_code, []).append(unit)
        full = fold(unit.name)
        for key in {full, fold(unit.short_name)}:
            exact.setdefault(key, []).append(unit)
        for scope in (None, unit.province_code):
            buckets.setdefault((unit.level, scope), _Bucket()).names.append((full, unit))
    for bucket in buckets.values():
        bucket.index()
    for units in children.values():
        units.sort(key=lambda u: u.code)
    return _Generation(by_code, children, by_level, exact, buckets)


@dataclass(frozen=True, slots=True)
class _Conversion:
    provinces: dict[str, tuple[str, ...]]
    communes: dict[str, tuple[str, ...]]


@cache
def _conversion() -> _Conversion:
    payload = _read("conversion-2025.json.gz")
    return _Conversion(
        provinces={old: tuple(new) for old, new in payload["province"].items()},
        communes={old: tuple(new) for old, new in payload["commune"].items()},
    )


# -- lookups -----------------------------------------------------------------------------------


def get_unit(code: str, generation: UnitGeneration = UnitGeneration.Y2025) -> Unit | None:
    """The unit with this statistics-office code in that generation, or ``None``.

    Codes are compared exactly as written, with their leading zeros ("01", "001", "00004").
    """
    return _generation(generation).by_code.get(code)


def require_unit(code: str, generation: UnitGeneration = UnitGeneration.Y2025) -> Unit:
    """The unit with this code in that generation; an unknown code is refused with ``UNIT_UNKNOWN``."""
    unit = _generation(generation).by_code.get(code)
    if unit is None:
        raise UnknownUnitError(code, generation)
    return unit


def children(code: str, generation: UnitGeneration = UnitGeneration.Y2025) -> list[Unit]:
    """The units one level below, in code order.

    A 2025 province has communes; a pre-2025 province has districts and a pre-2025 district
    has communes. A commune, or an unknown code, has none.
    """
    return list(_generation(generation).children.get(code, ()))


def provinces(generation: UnitGeneration = UnitGeneration.Y2025) -> list[Unit]:
    """The provinces and centrally-run cities: 34 from 1 July 2025, 63 before; in code order."""
    return list(_generation(generation).by_level.get(UnitLevel.PROVINCE, ()))


def communes(generation: UnitGeneration = UnitGeneration.Y2025, province_code: str | None = None) -> list[Unit]:
    """The communes (wards, communes, townships, special zones), optionally of one province.

    Code order. For the pre-2025 generation a province's communes are those of all its districts.
    An unknown province code gives an empty list.
    """
    gen = _generation(generation)
    if province_code is None:
        return list(gen.by_level.get(UnitLevel.COMMUNE, ()))
    bucket = gen.buckets.get((UnitLevel.COMMUNE, province_code))
    return [unit for _, unit in bucket.names] if bucket is not None else []


def _ancestors_or_self(unit: Unit, gen: _Generation) -> Iterator[Unit]:
    current: Unit | None = unit
    while current is not None:
        yield current
        current = gen.by_code.get(current.parent_code) if current.parent_code is not None else None


def is_within(unit_code: str, area_code: str, generation: UnitGeneration = UnitGeneration.Y2025) -> bool:
    """Whether the unit is the area itself or lies inside it (a commune in its district or province).

    False when either code is unknown in that generation.
    """
    gen = _generation(generation)
    unit = gen.by_code.get(unit_code)
    if unit is None or area_code not in gen.by_code:
        return False
    return any(u.code == area_code for u in _ancestors_or_self(unit, gen))


def search_units(
    query: str,
    *,
    generation: UnitGeneration | None = None,
    level: UnitLevel | None = None,
    within: str | None = None,
    limit: int = 20,
) -> list[Unit]:
    """Units whose name matches the query, ignoring diacritics, case, spacing and punctuation.

    The query matches a unit's full name ("Phường Ba Đình") or its name without the type word
    ("Ba Đình"). Exact matches come first, then names starting with the query (names without
    the type word first, then full names), then names containing it; within each group the 2025
    units come before the pre-2025 ones, and higher levels before lower ones (province, district,
    commune). ``generation`` and ``level`` restrict the search; ``within`` restricts it to the
    units inside the unit with that code (a province, or a pre-2025 district), in each generation
    where that code exists.
    """
    key = fold(query)
    if not key or limit <= 0:
        return []
    generations = [generation] if generation is not None else list(_GENERATION_ORDER)
    levels = [level] if level is not None else list(_LEVEL_ORDER)

    scopes: list[tuple[_Generation, str | None, Unit | None]] = []
    for gen_name in generations:
        gen = _generation(gen_name)
        if within is None:
            scopes.append((gen, None, None))
        elif (area := gen.by_code.get(within)) is not None:
            scopes.append((gen, area.province_code, area))

    found: list[Unit] = []
    seen: set[tuple[UnitGeneration, str]] = set()

    def admit(unit: Unit, gen: _Generation, area: Unit | None) -> bool:
        if (unit.generation, unit.code) in seen or unit.level not in levels:
            return False
        if area is not None and (
            unit.code == area.code or not any(u.code == area.code for u in _ancestors_or_self(unit, gen))
        ):
            return False
        seen.add((unit.generation, unit.code))
        found.append(unit)
        return True

    # 1. Exact matches of the full or the short name.
    exact: list[tuple[Unit, _Generation, Unit | None]] = []
    for gen, _scope, area in scopes:
        exact.extend((unit, gen, area) for unit in gen.exact.get(key, ()))
    exact.sort(key=lambda t: (_GENERATION_ORDER[t[0].generation], _LEVEL_ORDER[t[0].level], t[0].code))
    for unit, gen, area in exact:
        if admit(unit, gen, area) and len(found) >= limit:
            return found

    # 2. Names without the type word starting with the query ("ba d"), then full names ("phuong ba"),
    # alphabetically within each generation and level. 3. Names containing the query, in code order.
    def candidates(bucket: _Bucket, phase: int) -> Iterator[Unit]:
        if phase == 0:
            return bucket.short.starting_with(key)
        if phase == 1:
            return bucket.full.starting_with(key)
        return bucket.containing(key)

    for phase in range(3):
        for gen, scope, area in scopes:
            for level_name in levels:
                bucket = gen.buckets.get((level_name, scope))
                if bucket is None:
                    continue
                for unit in candidates(bucket, phase):
                    if admit(unit, gen, area) and len(found) >= limit:
                        return found
    return found


# -- conversion to the 2025 units --------------------------------------------------------------


def _units(codes: Iterable[str], generation: UnitGeneration) -> list[Unit]:
    by_code = _generation(generation).by_code
    return [by_code[c] for c in codes if c in by_code]


def to_current(code: str, level: UnitLevel = UnitLevel.COMMUNE) -> list[Unit]:
    """The 2025 unit(s) that a pre-2025 unit became part of on 1 July 2025, best match first.

    * A province: the province it was merged into under Resolution 202/2025/QH15 (one unit:
      every pre-2025 province went whole into one of the 34).
    * A commune: the commune(s) its territory went to, from the statistics office's conversion
      table. When it was split, all are listed; the one bearing the old commune's own name comes
      first, the others follow in the table's order, and the street address decides.
    * A district (abolished): the 2025 communes that received its communes, those that received
      the most first.

    An unknown code, or a pre-2025 commune missing from the conversion table, gives ``[]``.
    """
    conversion = _conversion()
    if level == UnitLevel.PROVINCE:
        return _units(conversion.provinces.get(code, ()), UnitGeneration.Y2025)
    if level == UnitLevel.COMMUNE:
        return _units(conversion.communes.get(code, ()), UnitGeneration.Y2025)
    district = _generation(UnitGeneration.PRE_2025).by_code.get(code)
    if district is None or district.level is not UnitLevel.DISTRICT:
        return []
    received: Counter[str] = Counter()
    for commune in children(code, UnitGeneration.PRE_2025):
        received.update(conversion.communes.get(commune.code, ()))
    ranked = sorted(received, key=lambda c: (-received[c], c))
    return _units(ranked, UnitGeneration.Y2025)


def pin_province_code(province_code: str) -> str:
    """The 3-digit province prefix of a PIN for a 2-digit province code ("01" -> "001").

    The PIN's first three digits are the code of the province where the birth was registered,
    from the list of the 63 pre-2025 provinces (Circular 07/2016/TT-BCA, Appendix 1). The 34
    current province codes are among them, so a code of either generation is accepted; any other
    code is refused with ``UNIT_UNKNOWN``.
    """
    unit = _generation(UnitGeneration.PRE_2025).by_code.get(province_code)
    if unit is None or unit.level is not UnitLevel.PROVINCE:
        current = _generation(UnitGeneration.Y2025).by_code.get(province_code)
        if current is None or current.level is not UnitLevel.PROVINCE:
            raise UnknownUnitError(province_code, UnitGeneration.PRE_2025)
    return province_code.zfill(3)
