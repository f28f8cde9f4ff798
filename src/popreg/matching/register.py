"""The register's persons read for linkage: one set-based query, straight into a data frame."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from popreg.registry.models import Person, Residence
from popreg.registry.rules import LifeStatus


def register_frame(session: Session, *, province_code: str | None = None) -> pd.DataFrame:
    """Every person (of one province when given) with their last known permanent residence.

    That is the current permanent residence, or for a person without one (a deceased person, whose
    residence was closed) the latest closed one: an address where the person lived is evidence for
    matching either way. The residence's unit is read with its generation, so that a pre-2025
    commune is compared as the current commune it became; persons without any permanent residence
    keep their home province for the place comparison.

    Records retired by a merge (life status ``merged``) are not read: they are no longer persons of
    the register, and their survivor, which is read, holds what they held.
    """
    latest_first = (Residence.valid_to.is_(None).desc(), Residence.valid_from.desc(), Residence.id.desc())
    ranked = (
        select(
            Residence.person_id,
            Residence.address_line,
            Residence.unit_code,
            Residence.unit_generation,
            func.row_number().over(partition_by=Residence.person_id, order_by=latest_first).label("rank"),
        )
        .where(Residence.kind == "permanent")
        .subquery()
    )
    query = (
        select(
            Person.id.label("record_id"),
            Person.pin,
            Person.family_name,
            Person.middle_name,
            Person.given_name,
            Person.birth_date,
            Person.birth_date_precision,
            Person.sex,
            ranked.c.address_line.label("address"),
            ranked.c.unit_code.label("commune_code"),
            ranked.c.unit_generation,
            Person.home_province_code.label("province_code"),
        )
        .outerjoin(ranked, and_(ranked.c.person_id == Person.id, ranked.c.rank == 1))
        .where(Person.life_status != LifeStatus.MERGED.value)
        .order_by(Person.id)
    )
    if province_code:
        query = query.where(Person.home_province_code == province_code)
    frame = pd.read_sql_query(query, session.connection())
    frame["record_id"] = frame["record_id"].astype("int64")
    return frame
