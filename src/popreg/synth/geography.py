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

from popreg.synth.arrays import BoolArray, FloatArray, IntArray
from popreg.synth.frequencies import draw, population_tables
from popreg.units.catalogue import UnitGeneration, UnitLevel, communes, to_current

_COMMUNE_WEIGHT_SEED = 20190401
"""Fixed, so that the populous communes are the same whatever seed a population is drawn with."""
_URBAN_KINDS = frozenset({"Phường", "Thị trấn"})
_LOG_NORMAL_SIGMA = 0.7


@dataclass(frozen=True)
class CommuneFrame:
    """The sampling frame of places, as index arrays.

    *Places* are pairs (pre-2025 commune, 2025 commune it went to), ordered by pre-2025 province,
    with cumulative population weights ``place_cdf``; ``province_cdf_start`` and
    ``province_cdf_end`` bound each pre-2025 province's slice of that distribution, so a place
    within a given province is drawn by rescaling the variate into the slice.
    """

    legacy_codes: pa.StringArray
    legacy_province: IntArray
    current_codes: pa.StringArray
    current_province_codes: pa.StringArray
    current_province: IntArray
    current_urban: BoolArray
    current_province_list: tuple[str, ...]
    place_legacy: IntArray
    place_current: IntArray
    place_cdf: FloatArray
    province_cdf_start: FloatArray
    province_cdf_end: FloatArray
    legacy_province_current: IntArray
    """For each pre-2025 province, the index in ``current_province_list`` of the province it joined."""

    def draw_places(self, uniform: FloatArray) -> IntArray:
        """Places drawn in proportion to population, nationally."""
        return draw(self.place_cdf, uniform)

    def draw_places_in(self, legacy_province: IntArray, uniform: FloatArray) -> IntArray:
        """Places drawn in proportion to population within each given pre-2025 province."""
        start = self.province_cdf_start[legacy_province]
        scaled = start + uniform * (self.province_cdf_end[legacy_province] - start)
        return np.minimum(draw(self.place_cdf, scaled), len(self.place_cdf) - 1)


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
    cdf = np.cumsum(place_weight)
    cdf /= cdf[-1]
    place_province = legacy_province[place_legacy_array]
    ends = np.searchsorted(place_province, np.arange(len(tables.province_codes)), side="right")
    cdf_end = cdf[ends - 1]
    cdf_start = np.concatenate([[0.0], cdf_end[:-1]])

    joined = []
    for code in tables.province_codes:
        (unit, *_) = to_current(code, UnitLevel.PROVINCE)
        joined.append(current_province_index[unit.province_code])
    return CommuneFrame(
        legacy_codes=pa.array([unit.code for unit in legacy], pa.string()),
        legacy_province=legacy_province,
        current_codes=pa.array([unit.code for unit in current], pa.string()),
        current_province_codes=pa.array([unit.province_code for unit in current], pa.string()),
        current_province=np.array([current_province_index[unit.province_code] for unit in current]),
        current_urban=np.array([unit.kind == "Phường" for unit in current]),
        current_province_list=current_province_list,
        place_legacy=place_legacy_array,
        place_current=np.array(place_current, dtype=np.int64),
        place_cdf=cdf,
        province_cdf_start=cdf_start,
        province_cdf_end=cdf_end,
        legacy_province_current=np.array(joined, dtype=np.int64),
    )
