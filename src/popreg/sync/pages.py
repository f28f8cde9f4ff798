"""Console pages of the review queue: the updates agencies sent that wait for an official, and the
page where the official accepts one (picking the person among the candidates of an uncertain match)
or rejects it with a reason.

Every page goes through :mod:`popreg.sync.resolve`, so role, jurisdiction, history and access log are
exactly as through the API. A refused decision comes back with its reason and nothing stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict

from popreg.kit.errors import DomainError
from popreg.kit.http import SessionDep
from popreg.sync import resolve
from popreg.sync.rules import ReviewStatus
from popreg.sync.schemas import AcceptIn, RejectIn, ReviewRead
from popreg.web.forms import FormErrors, Refused, submit
from popreg.web.i18n import translator_for
from popreg.web.session import ConsoleOfficial
from popreg.web.templating import render

router = APIRouter(prefix="/console/sync", include_in_schema=False)
ReviewId = Annotated[int, Path(ge=1, le=2_147_483_647)]
PAGE_SIZE = 20
NOTICES = ("accepted", "rejected")


class DecisionForm(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    pin: str = ""
    note: str = ""
    reason: str = ""


@router.get("/reviews")
def reviews_page(
    request: Request,
    console: ConsoleOfficial,
    session: SessionDep,
    status: ReviewStatus = ReviewStatus.PENDING,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    notice: str | None = None,
) -> Response:
    """The queue of the official's jurisdiction, oldest first."""
    listed = resolve.get_all(session, principal=console.principal, status=status, page=page, page_size=PAGE_SIZE)
    t = translator_for(request)
    base = f"/console/sync/reviews?status={status.value}"
    return render(
        request,
        "sync/reviews.html",
        {
            "section": "sync_reviews",
            "reviews": listed.items,
            "status": status.value,
            "statuses": [value.value for value in ReviewStatus],
            "notice": t(f"sync.notice_{notice}") if notice in NOTICES else None,
            "page_links": {
                "previous": f"{base}&page={page - 1}" if page > 1 else None,
                "next": f"{base}&page={page + 1}" if listed.has_next else None,
            },
        },
    )


@router.get("/reviews/{review_id}")
def review_page(request: Request, review_id: ReviewId, console: ConsoleOfficial, session: SessionDep) -> Response:
    """One queued update: what was sent, why it waits, the candidates, and the decision forms."""
    review = resolve.views(session, [resolve.get(session, principal=console.principal, review_id=review_id)])[0]
    return _page(request, review, DecisionForm(pin=review.pin or ""), FormErrors())


@router.post("/reviews/{review_id}/accept")
def accept(
    request: Request,
    review_id: ReviewId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[DecisionForm, Form()],
) -> Response:
    outcome = submit(
        session,
        lambda: resolve.accept(
            session,
            principal=console.principal,
            review_id=review_id,
            data=AcceptIn(pin=form.pin or None, note=form.note),
        ),
    )
    return _after(request, session, console, review_id, form, outcome, "accepted")


@router.post("/reviews/{review_id}/reject")
def reject(
    request: Request,
    review_id: ReviewId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[DecisionForm, Form()],
) -> Response:
    outcome = submit(
        session,
        lambda: resolve.reject(
            session, principal=console.principal, review_id=review_id, data=RejectIn(reason=form.reason)
        ),
    )
    return _after(request, session, console, review_id, form, outcome, "rejected")


def _after(
    request: Request,
    session: SessionDep,
    console: ConsoleOfficial,
    review_id: int,
    form: DecisionForm,
    outcome: ReviewRead | Refused,
    notice: str,
) -> Response:
    if isinstance(outcome, Refused):
        errors = FormErrors.from_error(outcome.error, translator_for(request), fields=DecisionForm.model_fields)
        review = resolve.views(session, [resolve.get(session, principal=console.principal, review_id=review_id)])[0]
        status = outcome.error.status_code if isinstance(outcome.error, DomainError) else 422
        return _page(request, review, form, errors, status_code=status)
    return RedirectResponse(f"/console/sync/reviews?notice={notice}", status_code=303)


def _page(
    request: Request, review: ReviewRead, form: DecisionForm, errors: FormErrors, *, status_code: int = 200
) -> Response:
    t = translator_for(request)
    options = [
        (
            candidate.pin,
            t(
                "sync.candidate",
                pin=candidate.pin,
                name=candidate.full_name,
                birth=candidate.birth_date,
                sex=candidate.sex,
                percent=f"{candidate.match_probability * 100:.1f}",
            ),
        )
        for candidate in review.candidates
    ]
    return render(
        request,
        "sync/review.html",
        {
            "section": "sync_reviews",
            "review": review,
            "candidate_options": options,
            "values": form.model_dump(),
            "errors": errors,
        },
        status_code=status_code,
    )
