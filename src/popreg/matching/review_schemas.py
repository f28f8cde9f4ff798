"""What the review of likely duplicates accepts and returns. Inputs refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from popreg.registry.merge_schemas import MergeRead
from popreg.registry.schemas import InputModel, LegalBasis, PersonRead, Pin


class CandidateStatus(StrEnum):
    """Where a member of a cluster stands (``duplicate_candidates.status``)."""

    OPEN = "open"
    MERGED = "merged"
    DISMISSED = "dismissed"


class ClusterSummary(BaseModel):
    """An open cluster in a list: who is in it and how strongly they match."""

    run_id: int
    cluster_id: str
    best_match_probability: float
    members: list[ClusterMemberSummary]


class ClusterMemberSummary(BaseModel):
    pin: str
    full_name: str
    birth_date: str
    province_code: str | None


class ClusterPage(BaseModel):
    items: list[ClusterSummary]
    page: int
    page_size: int
    has_next: bool


class ClusterMember(BaseModel):
    """One member of a cluster with the whole current record, for comparison side by side."""

    match_probability: float
    status: CandidateStatus
    decided_by: str | None
    decided_at: datetime | None
    merged_into: str | None = Field(default=None, description="Set when this record was retired by a merge.")
    person: PersonRead


class ClusterRead(BaseModel):
    """A cluster and its members; ``differing_fields`` are the fields on which the members disagree."""

    run_id: int
    cluster_id: str
    open: bool = Field(description="Whether two or more members still await a decision.")
    members: list[ClusterMember]
    differing_fields: list[str]


class ClusterMergeIn(InputModel):
    """Merge two members of the cluster: the record to retire into the record to keep."""

    retired_pin: Pin = Field(description="The duplicate record to retire; its PIN will redirect.")
    surviving_pin: Pin = Field(description="The record to keep.")
    legal_basis: LegalBasis = ""
    allow_identity_differences: bool = Field(
        default=False,
        description="Merge although sex or date of birth differ, stating that the difference is a recording error.",
    )


class ClusterDismissIn(InputModel):
    """Dismiss the cluster: its members are different people. The reason goes into each one's history."""

    reason: str = Field(
        min_length=0,
        max_length=500,
        description="Why the records are different people, and the evidence seen "
        "(e.g. 'Different parents and places of birth: extracts 12/1990 and 47/1991').",
    )


class ClusterMergeRead(BaseModel):
    merge: MergeRead
    cluster: ClusterRead


ClusterSummary.model_rebuild()
