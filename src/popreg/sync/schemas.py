"""Shapes of the sync API: an agency's updates, their outcomes, and the review queue."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from popreg.sync.rules import Outcome, ReviewStatus


class PersonRefIn(BaseModel):
    """Who the update is about: the PIN, or, when the agency does not know it, demographics."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    pin: str | None = Field(default=None, max_length=20, examples=["001090012345"])
    full_name: str | None = Field(default=None, min_length=1, max_length=200, examples=["Nguyễn Văn An"])
    birth_date: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4}(-[0-9]{2}-[0-9]{2})?$",
        description="YYYY-MM-DD, or YYYY when only the year is known.",
    )
    sex: str | None = Field(default=None, pattern=r"^[MF]$")
    address: str | None = Field(default=None, max_length=300)
    province_code: str | None = Field(default=None, pattern=r"^[0-9]{2}$")

    @field_validator("birth_date")
    @classmethod
    def _existing_date(cls, value: str | None) -> str | None:
        if value is not None and len(value) == 10:
            date.fromisoformat(value)  # a ValueError says the date does not exist
        return value

    @model_validator(mode="after")
    def _pin_or_name(self) -> PersonRefIn:
        if not self.pin and not self.full_name:
            raise ValueError("give the person's pin, or at least their full_name (and birth_date, sex, address)")
        return self


class UpdateIn(BaseModel):
    """One update: what the agency observed about one person, and on which legal basis."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    idempotency_key: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:/-]+$",
        description="Your unique id of this update: a resend with the same key has no second effect.",
        examples=["bhxh-2026-11-27-000001"],
    )
    legal_basis: str = Field(min_length=1, max_length=300, examples=["Luật Bảo hiểm xã hội 2024, Điều 16"])
    person: PersonRefIn
    fields: dict[str, Any] = Field(
        min_length=1,
        max_length=8,
        description="The fields to set, each one your policy's write_fields allows.",
        examples=[{"social_insurance_number": "0123456789"}],
    )
    observed_at: AwareDatetime = Field(
        description="When your system observed these values (with its time zone); a newer value in the register "
        "from another source is not overwritten but queued for an official."
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    updates: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Up to 1,000 updates (each an UpdateIn), one outcome each."
    )


class UpdateOutcome(BaseModel):
    """What became of one update. ``code`` and ``message`` say why it was queued or rejected."""

    idempotency_key: str | None
    update_id: int | None = Field(description="The register's id of the update; null for one refused for its shape.")
    outcome: Outcome
    code: str | None = None
    message: str | None = None
    replayed: bool = Field(default=False, description="True when this key was received before: the first outcome.")
    review_status: ReviewStatus | None = Field(default=None, description="For a queued update: where its review is.")


class BatchOutcome(BaseModel):
    items: list[UpdateOutcome]
    applied: int
    queued: int
    rejected: int


class CandidateRead(BaseModel):
    pin: str
    full_name: str
    birth_date: str
    sex: str
    match_probability: float


class ReviewRead(BaseModel):
    """A queued update as an official sees it."""

    id: int
    partner_id: str
    idempotency_key: str
    legal_basis: str
    person_ref: dict[str, Any]
    fields: dict[str, Any]
    observed_at: datetime
    received_at: datetime
    pin: str | None
    reason_code: str | None
    reason: str | None
    candidates: list[CandidateRead]
    province_code: str | None
    commune_code: str | None
    review_status: ReviewStatus
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_note: str | None


class ReviewPage(BaseModel):
    items: list[ReviewRead]
    page: int
    page_size: int
    has_next: bool


class AcceptIn(BaseModel):
    """Apply the queued update; for an uncertain match, name the person among the candidates."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    pin: str | None = Field(default=None, max_length=20, description="The candidate the update is about.")
    note: str = Field(default="", max_length=500)


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=500, examples=["Số BHXH thuộc về người khác (đã xác minh)"])


class FileJobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


class FileJobCounts(BaseModel):
    applied: int
    queued: int
    rejected: int


class FileJobError(BaseModel):
    code: str
    message: str


class FileJobRead(BaseModel):
    """An uploaded sync file as its agency sees it: where the job stands and what became of its rows."""

    job_id: str
    status: FileJobStatus
    source_name: str = Field(description="The file's name as uploaded (the default idempotency keys start with it).")
    result_format: str = Field(description="csv or parquet.")
    fields: list[str] = Field(description="The register's fields the file writes.")
    rows_total: int
    rows_done: int = Field(description="Rows answered so far (applied, queued or rejected).")
    progress: float = Field(description="rows_done / rows_total, from 0 to 1.")
    counts: FileJobCounts
    replayed: int = Field(
        description="Rows answered from an earlier update with the same key (counted under its first outcome)."
    )
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    results_available_until: datetime | None = Field(
        default=None,
        description="A completed job: until when its outcomes can be downloaded (UTC). They are deleted then "
        "and the job is expired.",
    )
    error: FileJobError | None = Field(default=None, description="Why a failed job stopped.")
    status_url: str
    results_url: str
