"""What the register's API accepts and returns. Inputs refuse unknown fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from popreg.registry.pin import Sex
from popreg.registry.rules import (
    DatePrecision,
    HouseholdRelationship,
    LifeStatus,
    RelationKind,
    ResidenceKind,
)
from popreg.units.catalogue import UnitGeneration

Pin = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
UnitCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{2}(\d{3})?$")]
LegalBasis = Annotated[
    str,
    Field(
        min_length=0,
        max_length=500,
        description=(
            "The document that authorises the change: its number, date and issuer "
            "(e.g. 'Trích lục khai sinh số 123/2026 ngày 02/01/2026, UBND phường Ba Đình')."
        ),
    ),
]


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResidenceIn(InputModel):
    """A residence registration: permanent (one at a time) or temporary."""

    kind: ResidenceKind = ResidenceKind.PERMANENT
    address_line: str = Field(min_length=3, max_length=300, examples=["Số 12, ngõ 45, phố Đội Cấn"])
    unit_code: UnitCode = Field(description="Commune code of the statistics office (5 digits).", examples=["00004"])
    unit_generation: UnitGeneration = Field(
        default=UnitGeneration.Y2025,
        description="Which units the code refers to: '2025' (from 1 July 2025) or 'pre2025'.",
    )
    valid_from: date | None = Field(default=None, description="Defaults to today (Vietnam time).")
    household_number: str | None = None
    end_current: bool = Field(
        default=False, description="For a permanent residence: end the current one the day before (a move)."
    )
    legal_basis: LegalBasis = ""


class PersonCreate(InputModel):
    """Register a person: the register issues the personal identification number (PIN)."""

    full_name: str = Field(min_length=1, max_length=200, examples=["Nguyễn Thị Minh Khai"])
    birth_date: str = Field(
        description="YYYY-MM-DD, or YYYY-MM / YYYY when only part is known.", examples=["2026-01-02"]
    )
    sex: Sex
    ethnicity_code: str = Field(description="Official code of the 54 groups (01 Kinh ... 54 Rơ-măm).", examples=["01"])
    religion_code: str = "none"
    nationality: str = Field(default="VNM", min_length=3, max_length=3)
    birth_registration_unit_code: str | None = Field(
        default=None, description="Commune (2025 units) where the birth was registered.", examples=["00004"]
    )
    birth_registration_country_code: str | None = Field(
        default=None, description="For a birth registered abroad: the 3-digit country code (101-295)."
    )
    origin_unit_code: str | None = Field(default=None, description="Place of origin (quê quán).")
    origin_unit_generation: UnitGeneration = UnitGeneration.Y2025
    father_pin: Pin | None = None
    mother_pin: Pin | None = None
    permanent_residence: ResidenceIn | None = None
    legal_basis: LegalBasis = ""
    source_agency: str | None = Field(default=None, max_length=80)

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Nguyễn Thị Minh Khai",
                    "birth_date": "2026-01-02",
                    "sex": "F",
                    "ethnicity_code": "01",
                    "birth_registration_unit_code": "00004",
                    "permanent_residence": {"address_line": "Số 12, ngõ 45, phố Đội Cấn", "unit_code": "00004"},
                    "legal_basis": "Trích lục khai sinh số 123/2026 ngày 02/01/2026",
                }
            ]
        },
    )


class PersonUpdate(InputModel):
    """Change personal data. Only the fields given change; a legal basis is required."""

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_date: str | None = None
    sex: Sex | None = None
    ethnicity_code: str | None = None
    religion_code: str | None = None
    nationality: str | None = Field(default=None, min_length=3, max_length=3)
    origin_unit_code: str | None = None
    origin_unit_generation: UnitGeneration | None = None
    legal_basis: LegalBasis = ""
    effective_date: date | None = None
    expected_version: int | None = Field(
        default=None, description="Refuse the change if the record changed since this version was read."
    )


class LifeStatusIn(InputModel):
    """Record a death (from a death extract) or a court's declaration of missing or dead."""

    status: LifeStatus = LifeStatus.DECEASED
    date: date
    legal_basis: LegalBasis = ""


class RelationIn(InputModel):
    kind: RelationKind
    relative_pin: Pin
    valid_from: date | None = None
    legal_basis: LegalBasis = ""


class ResidenceEnd(InputModel):
    valid_to: date | None = Field(default=None, description="Last day of the residence; defaults to today.")
    legal_basis: LegalBasis = ""


class HouseholdCreate(InputModel):
    head_pin: Pin
    address_line: str = Field(min_length=3, max_length=300)
    unit_code: UnitCode
    unit_generation: UnitGeneration = UnitGeneration.Y2025
    legal_basis: LegalBasis = ""


class HouseholdMemberIn(InputModel):
    pin: Pin
    relationship_to_head: HouseholdRelationship
    joined_on: date | None = None
    legal_basis: LegalBasis = ""


class HouseholdLeave(InputModel):
    left_on: date | None = None
    legal_basis: LegalBasis = ""


class ResidenceRead(BaseModel):
    id: int
    kind: ResidenceKind
    address_line: str
    unit_code: str
    unit_generation: str
    unit_name: str | None
    commune_code: str | None
    province_code: str | None
    household_number: str | None
    valid_from: date
    valid_to: date | None


class RelationRead(BaseModel):
    kind: RelationKind
    relative_pin: str
    relative_name: str
    valid_from: date | None
    valid_to: date | None


class HouseholdMembership(BaseModel):
    number: str
    relationship_to_head: HouseholdRelationship
    head_pin: str


class PersonRead(BaseModel):
    pin: str
    full_name: str
    family_name: str
    middle_name: str
    given_name: str
    birth_date: str = Field(description="As precise as known: YYYY-MM-DD, YYYY-MM or YYYY.")
    birth_date_precision: DatePrecision
    sex: Sex
    ethnicity_code: str | None
    ethnicity_name: str | None
    religion_code: str
    nationality: str
    birth_registration_code: str
    birth_registration_unit_code: str | None
    origin_unit_code: str | None
    origin_unit_generation: str | None
    life_status: LifeStatus
    life_status_date: date | None
    version: int
    residences: list[ResidenceRead]
    relations: list[RelationRead]
    household: HouseholdMembership | None
    created_at: datetime
    updated_at: datetime


class PersonSummary(BaseModel):
    pin: str
    full_name: str
    birth_date: str
    sex: Sex
    life_status: LifeStatus
    home_commune_code: str | None
    home_province_code: str | None


class PersonPage(BaseModel):
    items: list[PersonSummary]
    page: int
    page_size: int
    has_next: bool


class EventRead(BaseModel):
    id: int
    event_type: str
    changes: dict[str, Any]
    effective_date: date
    recorded_at: datetime
    source_agency: str
    legal_basis: str
    actor: str


class HistoryRead(BaseModel):
    pin: str
    events: list[EventRead]


class AsOfRead(BaseModel):
    pin: str
    date: date
    axis: str = Field(
        description="'recorded': what the register said at the end of that day; "
        "'effective': what was in force that day, as known now."
    )
    existed: bool
    state: dict[str, Any]


class HouseholdMemberRead(BaseModel):
    pin: str
    full_name: str
    relationship_to_head: HouseholdRelationship
    joined_on: date
    left_on: date | None


class HouseholdRead(BaseModel):
    number: str
    head_pin: str
    address_line: str
    unit_code: str
    unit_generation: str
    commune_code: str | None
    province_code: str | None
    members: list[HouseholdMemberRead]
