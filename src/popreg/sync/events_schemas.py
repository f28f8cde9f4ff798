"""Shapes of the events API (``/api/v1/events``): administrators' subscribers and partners' own
subscriptions. Inputs refuse unknown fields."""

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
    partner_id: str | None = Field(
        default=None,
        max_length=40,
        description="The partner (an agency) the subscriber belongs to: its fields must be within what the "
        "partner's policy lets it read, and its events follow that policy and the partner's status.",
    )


class SubscriptionCreate(BaseModel):
    """A partner's own subscription: the webhook, the event types, and the fields wanted."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2000,
        pattern=NO_CONTROL_CHARACTERS,
        examples=["https://events.bhxh.example/popreg"],
        description="Your webhook: https, reachable on the internet.",
    )
    event_types: list[str] = Field(
        min_length=1, max_length=40, examples=[["person.died", "residence.changed"]], description="`*` for all."
    )
    fields: list[str] = Field(
        max_length=40,
        examples=[["full_name", "birth_date", "life_status", "life_status_date"]],
        description="Changed fields you want in `changes`: each must be one your policy lets you read "
        "(`full_name` also gives its parts, `birth_date` its precision).",
    )
    name: ReadableText | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        examples=["Hệ thống nhận sự kiện BHXH"],
        description="A label for your own use; your organisation's name when omitted.",
    )


class SuspendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReadableText = Field(min_length=1, max_length=500, examples=["Hệ thống nhận đang bảo trì"])


class SubscriberRead(BaseModel):
    id: str
    name: str
    kind: str
    url: str | None
    partner_id: str | None = Field(description="The partner it belongs to; none for an administrator's subscriber.")
    event_types: list[str]
    fields: list[str] = Field(description="The fields asked for at registration.")
    delivered_fields: list[str] = Field(
        description="Of `fields`, those its events carry now: for a partner's subscriber, those the partner's "
        "current policy lets it read."
    )
    status: str = Field(description="`active`, `suspended` or `deleted`.")
    suspension_reason: str | None
    waiting_reason: str | None = Field(
        description="Why its events wait although it is active (its partner is suspended, or the partner's "
        "policy lacks the operation `events`); none when they are delivered."
    )
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
