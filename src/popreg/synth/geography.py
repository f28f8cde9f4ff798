"""Where the synthetic population lives: communes of the shipped unit catalogue, weighted by the
2019 census population of the pre-2025 provinces.

A household is placed by drawing a *pre-2025 commune* and one of the 2025 communes its territory
went to (``popreg.units.catalogue.to_current``). This gives, in one draw, both the current address
and the pre-2025 address it used to be, so that a household still recorded on the old units (as
about 5% are) carries an old code that really converts to its current commune. The population of
each pre-2025 province (2019 census) is spread over its communes with fixed, skewed weights (wards
and townships weigh twice as much as rural communes, and every commune gets a log-normal factor),
so some communes are much more populous than others, as they are.

The 2025 province of every address is the province of its 2025 commune; the province-level
conversion (``to_current(code, UnitLevel.PROVINCE)``) gives the current code used as the place
of birth registration of children born after the reform.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from popreg.synth.alias import AliasTable
from popreg.synth.arrays import BoolArray, FloatArray, IntArray
from popreg.synth.columns import ByteMatrix, code_matrix, fixed_width, from_vocabulary, rows, vocabulary
from popreg.synth.frequencies import population_tables
from popreg.units.catalogue import UnitGeneration, UnitLevel, communes, to_current

_COMMUNE_WEIGHT_SEED = 20190401
"""Fixed, so that the populous communes are the same whatever seed a population is drawn with."""
_URBAN_KINDS = frozenset({"Phường", "Thị trấn"})
_LOG_NORMAL_SIGMA = 0.7
UNIT_GENERATIONS = vocabulary(("pre2025", "2025"))
"""Index 1 (true) is a code of the 2025 units, as ``UnitGeneration`` spells them."""


@dataclass(frozen=True)
class CommuneFrame:
    """The sampling frame of places, as index arrays.

    *Places* are pairs (pre-2025 commune, 2025 commune it went to), ordered by pre-2025 province
    and drawn in proportion to their population: ``places`` nationally, ``places_by_province``
    within a pre-2025 province (one row per province, ``province_first_place`` giving where each
    province's places begin).
    """

    legacy_province: IntArray
    current_province: IntArray
    current_urban: BoolArray
    current_province_list: tuple[str, ...]
    place_legacy: IntArray
    place_current: IntArray
    place_unit_chars: ByteMatrix
    """Row ``2 * place`` holds the pre-2025 commune code of the place, row ``2 * place + 1`` the 2025 one."""
    place_province_chars: ByteMatrix
    """The 2025 province code of each place."""
    places: AliasTable
    places_by_province: AliasTable
    province_first_place: IntArray
    legacy_province_current: IntArray
    """For each pre-2025 province, the index in ``current_province_list`` of the province it joined."""

    def draw_places(self, uniform: FloatArray) -> IntArray:
        """Places drawn in proportion to population, nationally."""
        return self.places.draw(uniform)

    def draw_places_in(self, legacy_province: IntArray, uniform: FloatArray) -> IntArray:
        """Places drawn in proportion to population within each given pre-2025 province."""
        return self.province_first_place[legacy_province] + self.places_by_province.draw(uniform, legacy_province)

    def unit_codes(self, place: IntArray, on_2025_units: BoolArray) -> pa.StringArray:
        """The commune code each place is recorded with: 2025 or pre-2025; null where place is -1."""
        missing = place < 0
        row = 2 * np.where(missing, 0, place) + on_2025_units
        return fixed_width(rows(self.place_unit_chars, row), missing)

    def current_communes(self, place: IntArray) -> pa.StringArray:
        """The 2025 commune code of each place."""
        return fixed_width(rows(self.place_unit_chars, 2 * place + 1))

    def current_provinces(self, place: IntArray) -> pa.StringArray:
        """The 2025 province code of each place."""
        return fixed_width(rows(self.place_province_chars, place))

    @staticmethod
    def generations(on_2025_units: BoolArray) -> pa.StringArray:
        """The generation of the units a code was recorded on ("2025" or "pre2025")."""
        return from_vocabulary(UNIT_GENERATIONS, on_2025_units.astype(np.int64))


@cache
def commune_frame() -> CommuneFrame:
    """The frame, built once per process from the unit catalogue and the census populations."""
    tables = population_tables()
    province_index = {code: i for i, code in enumerate(tables.province_codes)}

    current = communes(UnitGeneration.Y2025)
    current_index = {unit.code: i for i, unit in enumerate(current)}
    current_province_list = tuple(sorted({unit.province_code for unit in current}))
    current_province_index = {code: i for i, code in enumerate(current_province_list)}

    legacy = [unit for unit in communes(UnitGeneration.PRE_2025) if to_current(unit.code)]
    legacy_province = np.array([province_index[unit.province_code] for unit in legacy], dtype=np.int64)
    urban = np.array([unit.kind in _URBAN_KINDS for unit in legacy])
    rng = np.random.default_rng(_COMMUNE_WEIGHT_SEED)
    raw = rng.lognormal(0.0, _LOG_NORMAL_SIGMA, len(legacy)) * np.where(urban, 2.0, 1.0)
    per_province = np.bincount(legacy_province, weights=raw, minlength=len(tables.province_codes))
    weight = tables.province_population[legacy_province] * raw / per_province[legacy_province]

    place_legacy: list[int] = []
    place_current: list[int] = []
    place_weight: list[float] = []
    for i in np.argsort(legacy_province, kind="stable").tolist():
        targets = to_current(legacy[i].code)
        for target in targets:
            place_legacy.append(i)
            place_current.append(current_index[target.code])
            place_weight.append(float(weight[i]) / len(targets))
    place_legacy_array = np.array(place_legacy, dtype=np.int64)
    weights = np.array(place_weight)
    place_province = legacy_province[place_legacy_array]
    first = np.searchsorted(place_province, np.arange(len(tables.province_codes)), side="left")
    ends = np.append(first[1:], len(weights))

    joined = []
    for code in tables.province_codes:
        (unit, *_) = to_current(code, UnitLevel.PROVINCE)
        joined.append(current_province_index[unit.province_code])
    place_current_array = np.array(place_current, dtype=np.int64)
    legacy_chars = code_matrix([unit.code for unit in legacy])[place_legacy_array]
    current_chars = code_matrix([unit.code for unit in current])[place_current_array]
    unit_chars = np.empty((2 * len(place_legacy), 5), dtype=np.uint8)
    unit_chars[0::2] = legacy_chars
    unit_chars[1::2] = current_chars
    return CommuneFrame(
        legacy_province=legacy_province,
        current_province=np.array([current_province_index[unit.province_code] for unit in current]),
        current_urban=np.array([unit.kind == "Phường" for unit in current]),
        current_province_list=current_province_list,
        place_legacy=place_legacy_array,
        place_current=place_current_array,
        place_unit_chars=unit_chars,
        place_province_chars=code_matrix([unit.province_code for unit in current])[place_current_array],
        places=AliasTable.single(weights),
        places_by_province=AliasTable.from_weights([weights[a:b] for a, b in zip(first, ends, strict=True)]),
        province_first_place=first.astype(np.int64),
        legacy_province_current=np.array(joined, dtype=np.int64),
    )
