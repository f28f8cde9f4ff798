"""Find the registered person that an update without a PIN describes.

An agency that does not know a person's PIN sends what it knows: the name, the date (or only the
year) of birth, sex, an address. The register answers with its most likely persons, best first,
each with a match probability; the caller decides what is certain enough to apply (see
docs/matching.md for how to read the probability).

Blocking keeps this to a handful of indexed lookups whatever the size of the register: persons
whose folded name is one of the name's orders (born within a year of the date given), and, to
survive a misspelt name or a date with day and month exchanged, persons born on the date or its
swap, of the same sex, whose folded name starts with the family name or ends with the given name.
The few persons found are scored with the linkage model (:mod:`popreg.matching.scoring`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from popreg.matching.normalise import name_order_variants, split_name
from popreg.matching.records import normalise_record, to_records
from popreg.matching.scoring import load_parameters, score_pairs
from popreg.registry.models import Person, Residence

BLOCK_SIZE = 200
"""At most this many persons are read from each block (a very common name on a common date)."""


@dataclass(frozen=True, slots=True)
class Demographics:
    """What an update says about a person whose PIN it does not know."""

    full_name: str
    birth_date: date | None = None  # full date when known
    birth_year: int | None = None  # when only the year is known
    sex: str | None = None  # "M" / "F" as in the register
    address: str | None = None
    province_code: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A registered person who may be the one described, with the probability that they are."""

    person_id: int
    pin: str
    match_probability: float  # 0..1


def _swapped(day: date) -> date | None:
    if day.day > 12 or day.day == day.month:
        return None
    try:
        return date(day.year, day.day, day.month)
    except ValueError:
        return None


def _year_range(who: Demographics) -> tuple[date, date] | None:
    year = who.birth_date.year if who.birth_date else who.birth_year
    if year is None:
        return None
    return date(max(year - 1, 1), 1, 1), date(min(year + 1, 9999), 12, 31)


def _blocks(who: Demographics) -> list[Any]:
    variants = name_order_variants(who.full_name)
    blocks: list[Any] = []
    if variants:
        by_name = select(Person.id).where(Person.name_folded.in_(variants))
        years = _year_range(who)
        if years is not None:
            by_name = by_name.where(Person.birth_date.between(*years))
        blocks.append(by_name.limit(BLOCK_SIZE))
    parts = split_name(who.full_name)
    days = [d for d in (who.birth_date, _swapped(who.birth_date) if who.birth_date else None) if d is not None]
    if days and (parts.family or parts.given):
        name_conditions = []
        if parts.family:
            name_conditions.append(
                and_(Person.name_folded >= parts.family + " ", Person.name_folded < parts.family + " \uffff")
            )
        if parts.given:
            name_conditions.append(Person.name_folded.like(f"% {parts.given}"))
        by_date = select(Person.id).where(Person.birth_date.in_(days), or_(*name_conditions))
        if who.sex:
            by_date = by_date.where(Person.sex == who.sex)
        blocks.append(by_date.limit(BLOCK_SIZE))
    return blocks


def _rows(session: Session, person_ids: list[int]) -> list[dict[str, Any]]:
    residence = (
        select(Residence.person_id, Residence.address_line)
        .where(Residence.kind == "permanent", Residence.valid_to.is_(None), Residence.person_id.in_(person_ids))
        .subquery()
    )
    query = (
        select(
            Person.id,
            Person.pin,
            Person.family_name,
            Person.middle_name,
            Person.given_name,
            Person.birth_date,
            Person.birth_date_precision,
            Person.sex,
            Person.home_commune_code,
            Person.home_province_code,
            residence.c.address_line,
        )
        .outerjoin(residence, residence.c.person_id == Person.id)
        .where(Person.id.in_(person_ids))
        .order_by(Person.id)
    )
    return [
        {
            "id": row.id,
            "pin": row.pin,
            "family_name": row.family_name,
            "middle_name": row.middle_name,
            "given_name": row.given_name,
            "birth_date": row.birth_date,
            "birth_date_precision": row.birth_date_precision,
            "sex": row.sex,
            "commune_code": row.home_commune_code,
            "province_code": row.home_province_code,
            "address": row.address_line,
        }
        for row in session.execute(query)
    ]


def find_candidates(session: Session, who: Demographics, *, limit: int = 5) -> list[Candidate]:
    """The registered persons most likely to be ``who``, best first (at most ``limit``)."""
    person_ids: set[int] = set()
    for block in _blocks(who):
        person_ids.update(session.execute(block).scalars())
    if not person_ids:
        return []
    rows = _rows(session, sorted(person_ids))
    query = normalise_record(
        {
            "full_name": who.full_name,
            "birth_date": who.birth_date,
            "birth_year": who.birth_year,
            "sex": who.sex,
            "address": who.address,
            "province_code": who.province_code,
        }
    )
    registered = to_records(normalise_record(row) for row in rows)
    probabilities, _ = score_pairs(to_records([query] * len(rows)), registered, load_parameters())
    order = np.argsort(-probabilities, kind="stable")[:limit]
    return [
        Candidate(person_id=int(rows[i]["id"]), pin=str(rows[i]["pin"]), match_probability=float(probabilities[i]))
        for i in order
    ]
