"""Console pages of the review of likely duplicates: the open clusters, a cluster side by side with its
differences marked, the merge (the official chooses the record to keep) and the dismissal.

Every page goes through :mod:`popreg.matching.review`, so role, jurisdiction, history and the access
log are exactly as through the API. A refused form comes back with the reason next to its field and
nothing stored (each decision runs in a savepoint, :func:`popreg.web.forms.submit`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from popreg.kit.http import SessionDep
from popreg.matching import review
from popreg.matching.review_schemas import CandidateStatus, ClusterDismissIn, ClusterMergeIn, ClusterRead
from popreg.officials.rules import require_write
from popreg.registry.presentation import Presenter
from popreg.web.forms import ConsoleForm, FormErrors, Refused, raise_page_refusal, status_of, submit
from popreg.web.i18n import translator_for
from popreg.web.session import ConsoleOfficial, ConsoleSession
from popreg.web.templating import render

router = APIRouter(prefix="/console/duplicates", include_in_schema=False)
RunId = Annotated[int, Path(ge=1, le=2_147_483_647)]
ClusterId = Annotated[str, Path(min_length=1, max_length=40)]
PAGE_SIZE = 20
NOTICES = ("merged", "dismissed")
# Refusals about the page itself (an unknown or decided cluster, a read-only role): an error page.
PAGE_REFUSALS = frozenset({"ROLE_READ_ONLY", "DUPLICATE_CLUSTER_NOT_FOUND", "DUPLICATE_CLUSTER_CLOSED"})
MERGE_FIELDS = ("surviving_pin", "retired_pin", "legal_basis", "allow_identity_differences")
DISMISS_FIELDS = ("reason",)


class MergeForm(ConsoleForm):
    """The merge form as posted (a checkbox posts ``on`` when ticked, nothing otherwise)."""

    surviving_pin: str = ""
    retired_pin: str = ""
    legal_basis: str = ""
    allow_identity_differences: str = ""

    def to_input(self) -> ClusterMergeIn:
        return ClusterMergeIn.model_validate(
            {
                "surviving_pin": self.surviving_pin,
                "retired_pin": self.retired_pin,
                "legal_basis": self.legal_basis,
                "allow_identity_differences": self.allow_identity_differences == "on",
            }
        )


class DismissForm(ConsoleForm):
    reason: str = ""

    def to_input(self) -> ClusterDismissIn:
        return ClusterDismissIn.model_validate({"reason": self.reason})


@router.get("")
def clusters_page(
    request: Request,
    console: ConsoleOfficial,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    notice: str | None = None,
) -> Response:
    """The open clusters of likely duplicates in the official's jurisdiction, strongest first."""
    listed = review.list_open_clusters(session, principal=console.principal, page=page, page_size=PAGE_SIZE)
    t = translator_for(request)
    return render(
        request,
        "matching/duplicates.html",
        {
            "clusters": listed,
            "page": page,
            "previous_link": f"/console/duplicates?page={page - 1}" if page > 1 else None,
            "next_link": f"/console/duplicates?page={page + 1}" if listed.has_next else None,
            "notice": t(f"notice.duplicates_{notice}") if notice in NOTICES else None,
        },
    )


@router.get("/{run_id}/{cluster_id}")
def cluster_page(
    request: Request,
    run_id: RunId,
    cluster_id: ClusterId,
    console: ConsoleOfficial,
    session: SessionDep,
    notice: str | None = None,
) -> Response:
    """A cluster's members side by side, with the fields on which they differ marked."""
    cluster = review.get_cluster(session, principal=console.principal, run_id=run_id, cluster_id=cluster_id)
    merge_values = _default_merge_values(cluster)
    return _cluster_page(
        request,
        console,
        cluster,
        merge_values=merge_values,
        dismiss_values=DismissForm().model_dump(),
        errors=FormErrors(),
        notice=notice,
    )


@router.post("/{run_id}/{cluster_id}/merge")
def merge(
    request: Request,
    run_id: RunId,
    cluster_id: ClusterId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[MergeForm, Form()],
) -> Response:
    """Merge the chosen record into the record to keep."""
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: review.merge_in_cluster(
            session, principal=console.principal, run_id=run_id, cluster_id=cluster_id, data=form.to_input()
        ),
    )
    if isinstance(outcome, Refused):
        return _refused(request, console, session, run_id, cluster_id, outcome, merge_values=form.model_dump())
    return RedirectResponse(f"/console/duplicates/{run_id}/{cluster_id}?notice=merged", status_code=303)


@router.post("/{run_id}/{cluster_id}/dismiss")
def dismiss(
    request: Request,
    run_id: RunId,
    cluster_id: ClusterId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[DismissForm, Form()],
) -> Response:
    """Record that the cluster's members are different people."""
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: review.dismiss_cluster(
            session, principal=console.principal, run_id=run_id, cluster_id=cluster_id, data=form.to_input()
        ),
    )
    if isinstance(outcome, Refused):
        return _refused(request, console, session, run_id, cluster_id, outcome, dismiss_values=form.model_dump())
    return RedirectResponse("/console/duplicates?notice=dismissed", status_code=303)


def _refused(
    request: Request,
    console: ConsoleSession,
    session: Session,
    run_id: int,
    cluster_id: str,
    outcome: Refused,
    *,
    merge_values: dict[str, Any] | None = None,
    dismiss_values: dict[str, Any] | None = None,
) -> Response:
    error = outcome.error
    raise_page_refusal(error, PAGE_REFUSALS)
    fields = MERGE_FIELDS if merge_values is not None else DISMISS_FIELDS
    errors = FormErrors.from_error(error, translator_for(request), fields=fields)
    cluster = review.get_cluster(session, principal=console.principal, run_id=run_id, cluster_id=cluster_id)
    return _cluster_page(
        request,
        console,
        cluster,
        merge_values=merge_values or _default_merge_values(cluster),
        dismiss_values=dismiss_values or DismissForm().model_dump(),
        errors=errors,
        status_code=status_of(error),
    )


def _default_merge_values(cluster: ClusterRead) -> dict[str, Any]:
    """The strongest open member is proposed as the record to keep, the next one as the duplicate."""
    open_pins = [m.person.pin for m in cluster.members if m.status is CandidateStatus.OPEN]
    values = MergeForm().model_dump()
    if len(open_pins) >= 2:
        values.update(surviving_pin=open_pins[0], retired_pin=open_pins[1])
    return values


def _cluster_page(
    request: Request,
    console: ConsoleSession,
    cluster: ClusterRead,
    *,
    merge_values: dict[str, Any],
    dismiss_values: dict[str, Any],
    errors: FormErrors,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    t = translator_for(request)
    show = Presenter(t)
    values = [review.compared_values(member.person) for member in cluster.members]
    rows = [
        {
            "field": field,
            "label": t.label(field),
            "differs": field in cluster.differing_fields,
            "cells": [_shown(show, field, value[field]) for value in values],
        }
        for field in review.COMPARED_FIELDS
    ]
    open_members = [
        (member.person.pin, f"{member.person.full_name} · {member.person.pin}")
        for member in cluster.members
        if member.status is CandidateStatus.OPEN
    ]
    return render(
        request,
        "matching/cluster.html",
        {
            "cluster": cluster,
            "rows": rows,
            "show": show,
            "open_members": open_members,
            "can_decide": console.principal.can_write and cluster.open,
            "values": {**merge_values, **dismiss_values},
            "errors": errors,
            "notice": t(f"notice.duplicates_{notice}") if notice in NOTICES else None,
        },
        status_code=status_code,
    )


def _shown(show: Presenter, field: str, value: str | None) -> str:
    """A compared value as the console shows it elsewhere (sex, ethnicity, status and units in words)."""
    if value is None or value == "":
        return "—"
    readers = {
        "sex": show.sex,
        "life_status": show.life_status,
        "ethnicity_code": show.ethnicity,
        "religion_code": show.religion,
        "nationality": show.nationality,
        "birth_registration_unit_code": show.unit,
        "origin_unit_code": show.unit,
    }
    reader = readers.get(field)
    return str(reader(value)) if reader else value
