"""Console pages of identity cards: the card section of a person's page, the application form, a
card's page (its steps, its front and back, downloads) and the offline check of a scanned card.

Every page goes through :mod:`popreg.cards.service` (and :mod:`popreg.cards.checks`), so role,
jurisdiction and the access log are exactly as through the API. A step that is refused comes back
on the same page with the reason, and nothing is stored (each change runs in a savepoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.orm import Session

from popreg.cards import checks, service
from popreg.cards.api import card_file
from popreg.cards.drawing import to_svg
from popreg.cards.models import Card
from popreg.cards.render import CardSide, RenderFormat, card_scene, render
from popreg.cards.rules import ApplicationKind, CancelReason, CardState, CardStatus, card_required
from popreg.cards.schemas import CardApplicationIn, CardCancelIn, CardCheckIn, CardCheckRead, CardIssueIn, CardStepIn
from popreg.kit.clock import today_in_vietnam
from popreg.kit.errors import DomainError
from popreg.kit.http import SessionDep
from popreg.officials.rules import require_write
from popreg.registry import pages as registry_pages
from popreg.registry import service as registry
from popreg.registry.presentation import Presenter
from popreg.registry.rules import DatePrecision, LifeStatus
from popreg.registry.schemas import PersonRead
from popreg.web.forms import ConsoleForm, FormErrors, Refused, raise_page_refusal, status_of, submit
from popreg.web.i18n import translator_for
from popreg.web.session import ConsoleOfficial, ConsoleSession
from popreg.web.templating import render as render_page

router = APIRouter(prefix="/console", include_in_schema=False)
CardId = Annotated[int, Path(ge=1, le=2_147_483_647)]
NOTICES = ("card_applied", "card_produced", "card_issued", "card_cancelled")
# Refusals about the page itself (unknown person or card, read-only role): an error page, not a form.
PAGE_REFUSALS = frozenset({"ROLE_READ_ONLY", "PERSON_NOT_FOUND", "PIN_INVALID_STRUCTURE", "CARD_NOT_FOUND"})
STATE_TAGS = {
    CardState.VALID: "current",
    CardState.EXPIRED: "declared_missing",
    CardState.APPLIED: "declared_missing",
    CardState.NOT_ISSUED: "declared_missing",
    CardState.CANCELLED: "ended",
}
CHECK_TAGS = {"valid": "current", "expired": "declared_missing", "not_issued": "declared_missing"}


class ApplyForm(ConsoleForm):
    kind: str = ""
    legal_basis: str = ""

    def to_input(self) -> CardApplicationIn:
        return CardApplicationIn.model_validate(self.given("kind", "legal_basis"))


class StepForm(ConsoleForm):
    """Produce or issue: the same page posts one form or the other, told apart by its URL."""

    issued_on: str = ""
    legal_basis: str = ""
    expected_version: str = ""

    def to_produce(self) -> CardStepIn:
        return CardStepIn.model_validate(self.given("legal_basis", "expected_version"))

    def to_issue(self) -> CardIssueIn:
        return CardIssueIn.model_validate(self.given("issued_on", "legal_basis", "expected_version"))


class CancelForm(ConsoleForm):
    reason: str = ""
    cancel_legal_basis: str = ""
    expected_version: str = ""

    def to_input(self) -> CardCancelIn:
        data: dict[str, Any] = self.given("reason", "expected_version")
        data["legal_basis"] = self.cancel_legal_basis
        return CardCancelIn.model_validate(data)


CANCEL_ALIASES = {"legal_basis": "cancel_legal_basis"}


class CheckForm(ConsoleForm):
    source: str = "mrz"
    text: str = ""


# ---------------------------------------------------------------------------------------------
# The section of the person page


def person_section(
    request: Request, session: Session, console: ConsoleSession, person: PersonRead
) -> tuple[str, Mapping[str, Any]]:
    """The identity card on a person's page: the cards, what each is worth, and what to do next."""
    cards = service.list_cards(session, principal=console.principal, pin=person.pin).cards
    alive = person.life_status is LifeStatus.ALIVE
    held = any(card.state is CardState.VALID for card in cards)
    birth = _birth_date(person)
    return "cards/_person_section.html", {
        "cards": cards,
        "state_tags": STATE_TAGS,
        "can_apply": console.principal.can_write and alive and birth is not None,
        "missing_required_card": alive and not held and birth is not None and card_required(birth, today_in_vietnam()),
    }


registry_pages.add_person_section(person_section)


# ---------------------------------------------------------------------------------------------
# Applying


@router.get("/persons/{pin}/cards/new")
def apply_form(request: Request, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The application form, with the kind that most likely fits already chosen."""
    require_write(console.principal)
    person = registry.get_person(session, principal=console.principal, pin=pin)
    cards = service.list_cards(session, principal=console.principal, pin=pin).cards
    kind = ApplicationKind.RENEWAL if any(card.issued_on for card in cards) else ApplicationKind.FIRST
    return _apply_page(request, person, ApplyForm(kind=kind.value), FormErrors())


@router.post("/persons/{pin}/cards/new")
def apply(
    request: Request, pin: str, console: ConsoleOfficial, session: SessionDep, form: Annotated[ApplyForm, Form()]
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session, lambda: service.apply_for_card(session, principal=console.principal, pin=pin, data=form.to_input())
    )
    if isinstance(outcome, Refused):
        raise_page_refusal(outcome.error, PAGE_REFUSALS)
        person = registry.get_person(session, principal=console.principal, pin=pin)
        errors = FormErrors.from_error(outcome.error, translator_for(request), fields=ApplyForm.model_fields)
        return _apply_page(request, person, form, errors, status_code=status_of(outcome.error))
    return _to_card_page(pin, outcome.id, "card_applied")


def _apply_page(
    request: Request, person: PersonRead, form: ApplyForm, errors: FormErrors, *, status_code: int = 200
) -> Response:
    t = translator_for(request)
    return render_page(
        request,
        "cards/apply.html",
        {
            "person": person,
            "values": form.model_dump(),
            "errors": errors,
            "kinds": [(kind.value, t(f"card.kind.{kind.value}")) for kind in ApplicationKind],
            "show": Presenter(t),
        },
        status_code=status_code,
    )


# ---------------------------------------------------------------------------------------------
# A card and its steps


@router.get("/persons/{pin}/cards/{card_id}")
def card_page(
    request: Request,
    pin: str,
    card_id: CardId,
    console: ConsoleOfficial,
    session: SessionDep,
    notice: str | None = None,
) -> Response:
    """A card: where it stands, the next step, its front and back, and its files."""
    return _card_page(request, session, console, pin, card_id, notice=notice)


@router.post("/persons/{pin}/cards/{card_id}/produce")
def produce(
    request: Request,
    pin: str,
    card_id: CardId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[StepForm, Form()],
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: service.mark_produced(
            session, principal=console.principal, pin=pin, card_id=card_id, data=form.to_produce()
        ),
    )
    return _after_step(request, session, console, pin, card_id, outcome, notice="card_produced", step=form)


@router.post("/persons/{pin}/cards/{card_id}/issue")
def issue(
    request: Request,
    pin: str,
    card_id: CardId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[StepForm, Form()],
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: service.issue_card(
            session, principal=console.principal, pin=pin, card_id=card_id, data=form.to_issue()
        ),
    )
    return _after_step(request, session, console, pin, card_id, outcome, notice="card_issued", step=form)


@router.post("/persons/{pin}/cards/{card_id}/cancel")
def cancel(
    request: Request,
    pin: str,
    card_id: CardId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[CancelForm, Form()],
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: service.cancel_card(
            session, principal=console.principal, pin=pin, card_id=card_id, data=form.to_input()
        ),
    )
    return _after_step(request, session, console, pin, card_id, outcome, notice="card_cancelled", cancel=form)


@router.get("/persons/{pin}/cards/{card_id}/render.{output}")
def card_file_page(
    pin: str,
    card_id: CardId,
    output: RenderFormat,
    console: ConsoleOfficial,
    session: SessionDep,
    side: CardSide = CardSide.FRONT,
    download: Annotated[bool, Query()] = False,
) -> Response:
    """A card's picture for the signed-in official (the API's rendering, with the console's session)."""
    content = service.card_content(session, principal=console.principal, pin=pin, card_id=card_id)
    return card_file(render(content, side, output), pin=pin, side=side, output=output, download=download)


def _after_step(
    request: Request,
    session: Session,
    console: ConsoleSession,
    pin: str,
    card_id: int,
    outcome: Card | Refused,
    *,
    notice: str,
    step: StepForm | None = None,
    cancel: CancelForm | None = None,
) -> Response:
    """The answer to a step posted from a card's page (``step`` or ``cancel`` is the form that was
    posted): the card's page with a notice when the step was taken, the page again with the form's
    problems when it was refused."""
    if not isinstance(outcome, Refused):
        return _to_card_page(pin, card_id, notice)
    error = outcome.error
    raise_page_refusal(error, PAGE_REFUSALS)
    t = translator_for(request)
    if cancel is not None:
        errors = FormErrors.from_error(error, t, fields=CancelForm.model_fields, aliases=CANCEL_ALIASES)
    else:
        errors = FormErrors.from_error(error, t, fields=StepForm.model_fields)
    return _card_page(
        request, session, console, pin, card_id, step=step, cancel=cancel, errors=errors, status_code=status_of(error)
    )


def _to_card_page(pin: str, card_id: int, notice: str) -> Response:
    """After a step the browser is sent (303) to the card's page, which says what was done."""
    return RedirectResponse(f"/console/persons/{pin.strip()}/cards/{card_id}?notice={notice}", status_code=303)


def _card_page(
    request: Request,
    session: Session,
    console: ConsoleSession,
    pin: str,
    card_id: int,
    *,
    notice: str | None = None,
    step: StepForm | None = None,
    cancel: CancelForm | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    t = translator_for(request)
    person = registry.get_person(session, principal=console.principal, pin=pin)
    card = service.get_card(session, principal=console.principal, pin=pin, card_id=card_id)
    pictures: dict[str, Markup] = {}
    mrz: list[str] = []
    if card.date_of_issue is not None:
        content = service.card_content(session, principal=console.principal, pin=pin, card_id=card_id)
        # The SVG is written by popreg.cards.drawing, which escapes every text it places.
        pictures = {side.value: Markup(to_svg(card_scene(content, side), sized=False)) for side in _SIDES}  # noqa: S704
        mrz = list(content.mrz)
    step_values = (step or StepForm()).model_dump()
    cancel_values = (cancel or CancelForm()).model_dump()
    version = str(card.version)
    return render_page(
        request,
        "cards/card.html",
        {
            "person": person,
            "card": card,
            "show": Presenter(t),
            "state_tag": STATE_TAGS[card.state],
            "pictures": pictures,
            "mrz": mrz,
            "can_change": console.principal.can_write and card.status is not CardStatus.CANCELLED,
            "cancel_reason": (
                CancelReason.LOST.value if card.status is CardStatus.ISSUED else CancelReason.WITHDRAWN.value
            ),
            "values": {**step_values, **cancel_values, "expected_version": version},
            "errors": errors or FormErrors(),
            "downloads": _downloads(pin.strip(), card_id) if pictures else [],
            "notice": t(f"notice.{notice}") if notice in NOTICES else None,
        },
        status_code=status_code,
    )


_SIDES = (CardSide.FRONT, CardSide.BACK)


def _downloads(pin: str, card_id: int) -> list[tuple[str, str]]:
    base = f"/console/persons/{pin}/cards/{card_id}/render"
    return [
        ("card.download_pdf", f"{base}.pdf?side=both&download=1"),
        ("card.download_png_front", f"{base}.png?side=front&download=1"),
        ("card.download_png_back", f"{base}.png?side=back&download=1"),
        ("card.download_svg_front", f"{base}.svg?side=front&download=1"),
        ("card.download_svg_back", f"{base}.svg?side=back&download=1"),
    ]


# ---------------------------------------------------------------------------------------------
# The offline check


@router.get("/cards/check")
def check_form(request: Request, console: ConsoleOfficial) -> Response:
    """Paste the MRZ or the QR text read from a card, and compare it with the register."""
    return _check_page(request, CheckForm(), FormErrors(), None)


@router.post("/cards/check")
def check(
    request: Request, console: ConsoleOfficial, session: SessionDep, form: Annotated[CheckForm, Form()]
) -> Response:
    t = translator_for(request)
    if not form.text:
        return _check_page(request, form, FormErrors.single("text", t("card.check_empty")), None, status_code=422)
    try:
        data = CardCheckIn(mrz=form.text) if form.source != "qr" else CardCheckIn(qr=form.text)
        result = checks.check_card(session, principal=console.principal, data=data)
    except (DomainError, ValidationError) as error:
        errors = FormErrors.from_error(error, t, fields=CheckForm.model_fields, aliases={"mrz": "text", "qr": "text"})
        return _check_page(request, form, errors, None, status_code=status_of(error))
    return _check_page(request, form, FormErrors(), result)


def _check_page(
    request: Request, form: CheckForm, errors: FormErrors, result: CardCheckRead | None, *, status_code: int = 200
) -> Response:
    return render_page(
        request,
        "cards/check.html",
        {"values": form.model_dump(), "errors": errors, "result": result, "check_tags": CHECK_TAGS},
        status_code=status_code,
    )


# ---------------------------------------------------------------------------------------------
# Shared


def _birth_date(person: PersonRead) -> date | None:
    """The date of birth when it is known to the day (a card needs it), else ``None``."""
    return date.fromisoformat(person.birth_date) if person.birth_date_precision is DatePrecision.DAY else None
