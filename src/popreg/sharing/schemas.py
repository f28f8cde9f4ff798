"""Shapes of the partners' admin API and of the token endpoint."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PartnerKind(StrEnum):
    """An agency acts on a legal basis; a business reads personal data only with the citizen's consent."""

    AGENCY = "agency"
    BUSINESS = "business"


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=2,
        max_length=40,
        examples=["vietbank"],
        description="A short slug: lower-case letters, digits and '-', starting with a letter. Never changes.",
    )
    name: str = Field(min_length=1, max_length=200, examples=["Ngân hàng TMCP Việt (VietBank)"])
    kind: PartnerKind


class PolicyIn(BaseModel):
    """A partner's whole policy; it replaces the previous one."""

    model_config = ConfigDict(extra="forbid")

    operations: list[str] = Field(default_factory=list, max_length=10, examples=[["verify"]])
    verify_fields: list[str] = Field(default_factory=list, max_length=20, examples=[["full_name", "birth_date"]])
    read_fields: list[str] = Field(default_factory=list, max_length=30, examples=[[]])
    write_fields: list[str] = Field(
        default_factory=list,
        max_length=30,
        examples=[[]],
        description="Operation sync: the register fields the agency owns and may write (docs/sync.md).",
    )
    purposes: list[str] = Field(default_factory=list, max_length=50, examples=[["account-opening"]])
    daily_quota: int = Field(ge=0, le=10_000_000_000, examples=[1_000_000], description="Requests per day (Vietnam).")
    rate_per_second: float = Field(gt=0, le=1_000_000, examples=[200.0])
    burst: int = Field(ge=1, le=1_000_000, examples=[400], description="Requests that may arrive at once.")
    expected_version: int | None = Field(
        default=None, description="Refuse the change (VERSION_CONFLICT) unless the policy is still at this version."
    )


class PolicyRead(BaseModel):
    operations: list[str]
    verify_fields: list[str]
    read_fields: list[str]
    write_fields: list[str]
    purposes: list[str]
    daily_quota: int
    rate_per_second: float
    burst: int
    version: int
    updated_at: datetime


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jwk: dict[str, Any] = Field(
        description="The partner's PUBLIC key as a JWK: EC P-256 (ES256) or OKP Ed25519 (EdDSA).",
        examples=[{"kty": "EC", "crv": "P-256", "x": "...", "y": "...", "kid": "2026-01"}],
    )


class KeyRead(BaseModel):
    kid: str
    alg: str
    status: KeyStatus
    created_at: datetime
    retired_at: datetime | None
    jwk: dict[str, str]


class PartnerRead(BaseModel):
    id: str
    name: str
    kind: PartnerKind
    status: PartnerStatus
    suspension_reason: str | None
    created_at: datetime
    updated_at: datetime
    policy: PolicyRead
    keys: list[KeyRead]


class PartnerList(BaseModel):
    items: list[PartnerRead]


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, examples=["Hợp đồng hết hạn ngày 31/12/2026"])


class AccessTokenRead(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="The operations the token allows, space-separated.", examples=["verify read"])


class TokenErrorRead(BaseModel):
    """RFC 6749 §5.2, with our stable ``code``."""

    error: str = Field(examples=["invalid_client"])
    error_description: str
    code: str = Field(examples=["PARTNER_ASSERTION_REPLAYED"])
