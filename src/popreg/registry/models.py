"""Tables of the national population register: persons, family relations, households, residence
registrations, the append-only history of every change, and the PIN counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from popreg.kit.database import Base, UTCDateTime

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Person(Base):
    """The current state of one person. Every change to it is also a :class:`PersonEvent`."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    pin: Mapped[str] = mapped_column(String(12), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    # Binary ("C") collation on PostgreSQL so that prefix search is an index range scan on both backends.
    name_folded: Mapped[str] = mapped_column(
        String(200).with_variant(String(200, collation="C"), "postgresql"), index=True
    )
    family_name: Mapped[str] = mapped_column(String(80))
    middle_name: Mapped[str] = mapped_column(String(120))
    given_name: Mapped[str] = mapped_column(String(80))
    birth_date: Mapped[date] = mapped_column(Date)
    birth_date_precision: Mapped[str] = mapped_column(String(5))
    sex: Mapped[str] = mapped_column(String(1))
    ethnicity_code: Mapped[str | None] = mapped_column(String(2))  # unknown in some migrated records
    religion_code: Mapped[str] = mapped_column(String(40))
    nationality: Mapped[str] = mapped_column(String(3))
    birth_registration_code: Mapped[str] = mapped_column(String(3))
    birth_registration_unit_code: Mapped[str | None] = mapped_column(String(5))
    origin_unit_code: Mapped[str | None] = mapped_column(String(5))
    origin_unit_generation: Mapped[str | None] = mapped_column(String(8))
    life_status: Mapped[str] = mapped_column(String(16))
    life_status_date: Mapped[date | None] = mapped_column(Date)
    # Where the person belongs for jurisdiction (current permanent residence, else temporary, else
    # the last one, else the commune of birth registration), kept by the service on every change.
    home_commune_code: Mapped[str | None] = mapped_column(String(5))
    home_province_code: Mapped[str | None] = mapped_column(String(2))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_persons_birth_date_name_folded", "birth_date", "name_folded"),
        # A commune or province officer's name search is a range scan inside their unit.
        Index("ix_persons_home_commune_name", "home_commune_code", "name_folded"),
        Index("ix_persons_home_province_name", "home_province_code", "name_folded"),
    )


class PersonRelation(Base):
    """A family tie from a person to a relative: father, mother, spouse or guardian."""

    __tablename__ = "person_relations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Household(Base):
    """A household ("hộ"), registered at one address with one head."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    head_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    address_line: Mapped[str] = mapped_column(String(300))
    unit_code: Mapped[str] = mapped_column(String(5))
    unit_generation: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str | None] = mapped_column(String(5), index=True)
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dissolved_on: Mapped[date | None] = mapped_column(Date)


class HouseholdMember(Base):
    """A person's membership of a household and relationship to its head."""

    __tablename__ = "household_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relationship_to_head: Mapped[str] = mapped_column(String(20))
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        Index(
            "uq_household_members_one_current_household",
            "person_id",
            unique=True,
            sqlite_where=text("left_on IS NULL"),
            postgresql_where=text("left_on IS NULL"),
        ),
    )


class Residence(Base):
    """A residence registration (Law on Residence 2020): permanent or temporary, at an address
    recorded on the administrative units of its time, with the current units resolved beside it."""

    __tablename__ = "residences"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    address_line: Mapped[str] = mapped_column(String(300))
    unit_code: Mapped[str] = mapped_column(String(5))
    unit_generation: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str | None] = mapped_column(String(5))
    province_code: Mapped[str | None] = mapped_column(String(2))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        # The law allows one permanent residence at a time; the database enforces it too.
        Index(
            "uq_residences_one_current_permanent",
            "person_id",
            unique=True,
            sqlite_where=text("kind = 'permanent' AND valid_to IS NULL"),
            postgresql_where=text("kind = 'permanent' AND valid_to IS NULL"),
        ),
        Index("ix_residences_commune_current", "commune_code", "kind", "valid_to"),
        Index("ix_residences_province_current", "province_code", "kind", "valid_to"),
    )


class PersonEvent(Base):
    """One immutable entry of a person's history, written in the same transaction as the change.

    ``changes`` maps each changed field to ``[before, after]``; replaying a person's events in order
    rebuilds the record as the register held it at any moment (see ``rules.replay``).
    """

    __tablename__ = "person_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType)
    effective_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_agency: Mapped[str] = mapped_column(String(80))
    legal_basis: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))

    __table_args__ = (Index("ix_person_events_person_id_id", "person_id", "id"),)


class PinCounter(Base):
    """The next counter value of each PIN prefix (province, century-sex, year of birth)."""

    __tablename__ = "pin_counters"

    prefix: Mapped[str] = mapped_column(String(6), primary_key=True)
    next_counter: Mapped[int] = mapped_column(Integer)


class ImportJob(Base):
    """One bulk import of a file. ``rows_done`` is the checkpoint: it moves in the same transaction as
    each batch's rows, so a killed import resumes exactly after the last committed batch."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    source_name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12))
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    last_line: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    # Persons with an id from here on were loaded by this job: a PIN held by one of them again is
    # a duplicate inside the file, not a clash with the register.
    first_person_id: Mapped[int] = mapped_column(Integer)
    # Secondary indexes dropped for the load and rebuilt when it completes (an initial load).
    deferred_indexes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImportReject(Base):
    """A refused input row of an import, with the column at fault and a stable code."""

    __tablename__ = "import_rejects"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_jobs.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    column_name: Mapped[str] = mapped_column(String(60))
    code: Mapped[str] = mapped_column(String(40))
    value: Mapped[str | None] = mapped_column(String(200))
