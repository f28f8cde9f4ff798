"""The person an update without a PIN describes, found by the matching engine (``popreg.matching``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from popreg.matching.candidates import Candidate, Demographics, find_candidates
from popreg.sync.schemas import PersonRefIn

MAX_CANDIDATES = 5


def demographics_of(person: PersonRefIn) -> Demographics:
    """The agency's demographics in the engine's terms (a birth date may be known to the year only)."""
    birth = person.birth_date or ""
    return Demographics(
        full_name=person.full_name or "",
        birth_date=date.fromisoformat(birth) if len(birth) == 10 else None,
        birth_year=int(birth) if len(birth) == 4 else None,
        sex=person.sex,
        address=person.address,
        province_code=person.province_code,
    )


def candidates_for(session: Session, person: PersonRefIn) -> list[Candidate]:
    """Up to :data:`MAX_CANDIDATES` registered persons, best first, with their match probability."""
    return find_candidates(session, demographics_of(person), limit=MAX_CANDIDATES)
