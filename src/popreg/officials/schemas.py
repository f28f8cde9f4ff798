"""Sign-in and account shapes of the officials' API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from popreg.officials.rules import Role


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64, examples=["cb.phuongbadinh"])
    password: str = Field(min_length=1, max_length=256)


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_at: datetime


class OfficialRead(BaseModel):
    username: str
    display_name: str
    role: Role
    jurisdiction_code: str | None
