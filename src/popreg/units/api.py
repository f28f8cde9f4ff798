"""Administrative units: lookup by code and accent-insensitive search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from popreg.kit.errors import NotFound
from popreg.units.catalogue import Unit, UnitGeneration, UnitLevel, get_unit, search_units, to_current

router = APIRouter(prefix="/api/v1/units", tags=["reference"])


class UnitRead(BaseModel):
    code: str
    name: str
    kind: str
    level: UnitLevel
    generation: UnitGeneration
    parent_code: str | None
    province_code: str
    current: list[str] = []


def _read(unit: Unit) -> UnitRead:
    current = (
        [u.code for u in to_current(unit.code, unit.level)]
        if unit.generation is UnitGeneration.PRE_2025 and unit.level is not UnitLevel.DISTRICT
        else []
    )
    return UnitRead(
        code=unit.code,
        name=unit.name,
        kind=unit.kind,
        level=unit.level,
        generation=unit.generation,
        parent_code=unit.parent_code,
        province_code=unit.province_code,
        current=current,
    )


@router.get("", operation_id="search_units", response_model=list[UnitRead])
def search(
    q: Annotated[str, Query(min_length=1, max_length=100, description="Name; accents and case are ignored.")],
    generation: UnitGeneration | None = None,
    level: UnitLevel | None = None,
    within: Annotated[str | None, Query(description="Only units inside this province code.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[UnitRead]:
    """Find provinces and communes by name, before or after the July 2025 reform."""
    return [_read(u) for u in search_units(q, generation=generation, level=level, within=within, limit=limit)]


@router.get("/{code}", operation_id="get_unit", response_model=UnitRead)
def get(code: str, generation: UnitGeneration = UnitGeneration.Y2025) -> UnitRead:
    """A unit by its statistics-office code; a pre-2025 unit lists the current units it became."""
    unit = get_unit(code, generation)
    if unit is None:
        raise NotFound(f"No {generation.value} unit has code {code}.", code="UNIT_UNKNOWN")
    return _read(unit)
