"""HTTP API of the review of likely duplicates and of the merge of two records, for officials.

Every call needs an official's session token. A read of a cluster is written to the access log for
each member; a merge or a dismissal is written into the persons' histories and the access log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from popreg.kit.http import SessionDep
from popreg.matching import review
from popreg.matching.review_schemas import ClusterDismissIn, ClusterMergeIn, ClusterMergeRead, ClusterPage, ClusterRead
from popreg.officials.dependencies import CurrentOfficial
from popreg.registry import service as registry
from popreg.registry.merge_schemas import MergeIn, MergeRead

router = APIRouter(prefix="/api/v1", tags=["duplicates"])
RunId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The duplicate-detection run.")]
ClusterId = Annotated[str, Path(min_length=1, max_length=40, description="The cluster, within its run.")]


@router.get("/duplicates", operation_id="list_duplicate_clusters", response_model=ClusterPage)
def list_duplicate_clusters(
    session: SessionDep,
    official: CurrentOfficial,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ClusterPage:
    """Clusters of likely duplicates awaiting review in your jurisdiction, strongest match first.

    A cluster is listed while two or more of its members await a decision and one of them belongs to
    your province (by the candidate's province code) or your commune (by home commune).
    """
    return review.list_open_clusters(session, principal=official, page=page, page_size=page_size)


@router.get("/duplicates/{run_id}/{cluster_id}", operation_id="get_duplicate_cluster", response_model=ClusterRead)
def get_duplicate_cluster(
    run_id: RunId, cluster_id: ClusterId, session: SessionDep, official: CurrentOfficial
) -> ClusterRead:
    """A cluster with every member's whole record side by side and the fields on which they differ."""
    return review.get_cluster(session, principal=official, run_id=run_id, cluster_id=cluster_id)


@router.post(
    "/duplicates/{run_id}/{cluster_id}/merge", operation_id="merge_duplicate_cluster", response_model=ClusterMergeRead
)
def merge_duplicate_cluster(
    run_id: RunId, cluster_id: ClusterId, data: ClusterMergeIn, session: SessionDep, official: CurrentOfficial
) -> ClusterMergeRead:
    """Merge two open members of the cluster: `retired_pin` into `surviving_pin`, citing `legal_basis`.

    The retired PIN redirects to the survivor from now on. Refusals: `DUPLICATE_NOT_IN_CLUSTER`,
    `DUPLICATE_CLUSTER_CLOSED`, and those of `POST /api/v1/merges`.
    """
    return review.merge_in_cluster(session, principal=official, run_id=run_id, cluster_id=cluster_id, data=data)


@router.post(
    "/duplicates/{run_id}/{cluster_id}/dismiss", operation_id="dismiss_duplicate_cluster", response_model=ClusterRead
)
def dismiss_duplicate_cluster(
    run_id: RunId, cluster_id: ClusterId, data: ClusterDismissIn, session: SessionDep, official: CurrentOfficial
) -> ClusterRead:
    """Record that the cluster's open members are different people; `reason` goes into each one's history."""
    return review.dismiss_cluster(session, principal=official, run_id=run_id, cluster_id=cluster_id, data=data)


@router.post("/merges", operation_id="merge_persons", response_model=MergeRead, status_code=201)
def merge_persons(data: MergeIn, session: SessionDep, official: CurrentOfficial) -> MergeRead:
    """Retire a duplicate record into the record that is kept, with or without a cluster found by the dedupe.

    Both histories are kept; current residences, household membership and family ties follow the
    person; the retired record's identity cards are cancelled; `GET /api/v1/persons/{retired PIN}`
    answers `308` to the survivor. Refusals: `MERGE_SAME_PERSON`, `MERGE_ALREADY_RETIRED`,
    `MERGE_SURVIVOR_RETIRED`, `MERGE_LIFE_STATUS_DIFFERS`, `MERGE_IDENTITY_DIFFERS`,
    `MERGE_HOUSEHOLD_CONFLICT`, `LEGAL_BASIS_REQUIRED`, `JURISDICTION_DENIED`, `ROLE_READ_ONLY`.
    """
    return registry.merge_persons(session, principal=official, data=data)
