"""What the merge of duplicate records accepts and returns. Inputs refuse unknown fields."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from popreg.registry.schemas import InputModel, LegalBasis, Pin


class MergeIn(InputModel):
    """Retire a duplicate record into the record that is kept.

    The retired record keeps its history and its PIN, which from now on redirects to the surviving
    record; current residences, household membership and family ties follow the person.
    """

    retired_pin: Pin = Field(description="The PIN of the duplicate record to retire.", examples=["001090123457"])
    surviving_pin: Pin = Field(description="The PIN of the record to keep.", examples=["001090123456"])
    legal_basis: LegalBasis = ""
    allow_identity_differences: bool = Field(
        default=False,
        description="Merge although sex or date of birth differ: the official states that the difference "
        "is a recording error (the legal basis must document it).",
    )


class MergeRead(BaseModel):
    """A merge as recorded."""

    retired_pin: str
    surviving_pin: str
    merged_at: datetime
    actor: str
    legal_basis: str
    moved: list[str] = Field(
        default_factory=list,
        description="What followed the person to the surviving record, and what was ended on the retired one.",
    )
