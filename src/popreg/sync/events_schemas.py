"""Shapes of the events administration API (``/api/v1/events``). Inputs refuse unknown fields."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
_LETTERS_AND_MARKS = ("L", "M", "N", "P", "S", "Z")


def _readable(text: str) -> str:
    """A name or reason an official reads: letters, digits, punctuation and spaces, no control,
    unassigned or private-use character, and no mathematical look-alike of a letter or digit."""
    text = unicodedata.normalize("NFC", text.strip())
    if not text or any(
        unicodedata.category(ch)[0] not in _LETTERS_AND_MARKS or unicodedata.normalize("NFKC", ch) != ch for ch in text
    ):
        raise ValueError("use letters, digits, punctuation and spaces only")
    return text


ReadableText = Annotated[str, AfterValidator(_readable)]


class SubscriberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=3, max_length=40, examples=["bhxh-webhook"], description="A short slug.")
    name: ReadableText = Field(min_length=1, max_length=200, examples=["Bảo hiểm xã hội Việt Nam"])
    url: str = Field(
        min_length=1, max_length=2000, pattern=NO_CONTROL_CHARACTERS, examples=["https://events.bhxh.example/popreg"]
    )
    event_types: list[str] = Field(
        min_length=1, max_length=40, examples=[["person.died", "residence.changed"]], description="`*` for all."
    )
    fields: list[str] = Field(
        max_length=40,
        examples=[["full_name", "birth_date", "life_status", "life_status_date", "residences"]],
        description="The fields the subscriber's policy allows; other changed fields are left out of its events.",
    )


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReadableText = Field(min_length=1, max_length=500, examples=["Hệ thống nhận đang bảo trì"])


class SubscriberRead(BaseModel):
    id: str
    name: str
    kind: str
    url: str | None
    event_types: list[str]
    fields: list[str]
    status: str
    suspension_reason: str | None
    created_at: datetime
    pending: int = Field(description="Events waiting to be delivered to this subscriber.")
    dead_letters: int = Field(description="Events that failed every attempt and wait for a redelivery.")


class SubscriberCreated(SubscriberRead):
    secret: str = Field(
        description="The HMAC secret that signs every delivery (`whsec_...`). Shown only in this answer: keep it."
    )


class SubscriberList(BaseModel):
    items: list[SubscriberRead]


class DeadLetterRead(BaseModel):
    delivery_id: int
    subscriber_id: str
    event_id: str
    event_type: str
    pin: str
    sequence: int
    attempts: int
    last_error: str | None
    dead_at: datetime | None


class DeadLetterList(BaseModel):
    items: list[DeadLetterRead]


class RedeliveryRead(BaseModel):
    redelivered: int = Field(description="Dead letters put back in the queue, to be sent again at once.")
