"""Console pages of consents and data uses: the consents section of a person's page, the pages that
record and revoke a consent on the citizen's behalf, and the list of who used the person's data.

Every page goes through :mod:`popreg.sharing.consents`, so role, jurisdiction and the access log are
exactly as through the API. A refused form comes back with the reason next to its field and nothing
stored (each change runs in a savepoint, :func:`popreg.web.forms.submit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from popreg.kit.errors import Conflict, NotFound
from popreg.kit.http import SessionDep
from popreg.officials.rules import require_write
from popreg.registry import pages as registry_pages
from popreg.registry import service as registry
from popreg.registry.presentation import Presenter
from popreg.registry.rules import LifeStatus
from popreg.registry.schemas import PersonRead
from popreg.sharing import consents
from popreg.sharing.consents import ConsentIn, ConsentRead, ConsentRevokeIn, ConsentState, DataUseRead
from popreg.sharing.models import Partner, PartnerPolicy
from popreg.web.forms import ConsoleForm, FormErrors, Refused, raise_page_refusal, status_of, submit
from popreg.web.i18n import Translator, translator_for
from popreg.web.session import ConsoleOfficial, ConsoleSession
from popreg.web.templating import render

pages_router = APIRouter(prefix="/console", include_in_schema=False)
ConsentId = Annotated[int, Path(ge=1, le=2_147_483_647)]
PAGE_SIZE = 20
NOTICES = ("consent_given", "consent_revoked")
# Refusals about the page itself (unknown person or consent, read-only role): an error page, not a form.
PAGE_REFUSALS = frozenset(
    {"ROLE_READ_ONLY", "PERSON_NOT_FOUND", "PIN_INVALID_STRUCTURE", "CONSENT_NOT_FOUND", "CONSENT_ALREADY_REVOKED"}
)
STATE_TAGS = {ConsentState.LIVE: "current", ConsentState.REVOKED: "ended", ConsentState.EXPIRED: "declared_missing"}
ANSWERED = frozenset({"ok", "match", "no_match"})


class ConsentForm(ConsoleForm):
    """The consent form as posted: text and the ticked attributes, until :class:`ConsentIn` reads them."""

    partner_id: str = ""
    purpose: str = ""
    fields: list[str] = Field(default_factory=list)
    expires_on: str = ""
    evidence: str = ""

    def to_input(self) -> ConsentIn:
        data: dict[str, Any] = {
            "partner_id": self.partner_id,
            "purpose": self.purpose,
            "fields": self.fields,
            "evidence": self.evidence,
        }
        if self.expires_on:
            data["expires_on"] = self.expires_on
        return ConsentIn.model_validate(data)


class RevokeForm(ConsoleForm):
    evidence: str = ""

    def to_input(self) -> ConsentRevokeIn:
        return ConsentRevokeIn.model_validate({"evidence": self.evidence})


# ---------------------------------------------------------------------------------------------
# The section of the person page


def person_section(
    request: Request, session: Session, console: ConsoleSession, person: PersonRead
) -> tuple[str, Mapping[str, Any]]:
    """The person's consents (live ones first) and the way to who used their data."""
    listed = consents.consents_as_official(session, principal=console.principal, pin=person.pin).consents
    return "sharing/_person_section.html", {
        "consents": sorted(listed, key=lambda consent: consent.state is not ConsentState.LIVE),
        "state_tags": STATE_TAGS,
        "can_give": console.principal.can_write and person.life_status is LifeStatus.ALIVE,
        "can_revoke": console.principal.can_write,
    }


registry_pages.add_person_section(person_section)


# ---------------------------------------------------------------------------------------------
# Consents


@pages_router.get("/persons/{pin}/consents")
def consents_page(
    request: Request, pin: str, console: ConsoleOfficial, session: SessionDep, notice: str | None = None
) -> Response:
    """Every consent the person gave, with its state, and the ways to record or revoke one."""
    person = registry.get_person(session, principal=console.principal, pin=pin)
    listed = consents.consents_as_official(session, principal=console.principal, pin=pin).consents
    t = translator_for(request)
    return render(
        request,
        "sharing/consents.html",
        {
            "person": person,
            "consents": listed,
            "state_tags": STATE_TAGS,
            "show": Presenter(t),
            "can_give": console.principal.can_write and person.life_status is LifeStatus.ALIVE,
            "can_revoke": console.principal.can_write,
            "notice": t(f"notice.{notice}") if notice in NOTICES else None,
        },
    )


@pages_router.get("/persons/{pin}/consents/new")
def give_form(request: Request, pin: str, console: ConsoleOfficial, session: SessionDep) -> Response:
    """The form that records a consent the citizen signed at the counter."""
    require_write(console.principal)
    person = registry.get_person(session, principal=console.principal, pin=pin)
    return _give_page(request, session, person, ConsentForm(), FormErrors())


@pages_router.post("/persons/{pin}/consents/new")
def give(
    request: Request, pin: str, console: ConsoleOfficial, session: SessionDep, form: Annotated[ConsentForm, Form()]
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session, lambda: consents.give_as_official(session, principal=console.principal, pin=pin, data=form.to_input())
    )
    if isinstance(outcome, Refused):
        raise_page_refusal(outcome.error, PAGE_REFUSALS)
        errors = FormErrors.from_error(outcome.error, translator_for(request), fields=ConsentForm.model_fields)
        person = registry.get_person(session, principal=console.principal, pin=pin)
        return _give_page(request, session, person, form, errors, status_code=status_of(outcome.error))
    return RedirectResponse(f"/console/persons/{outcome.pin}/consents?notice=consent_given", status_code=303)


def _give_page(
    request: Request,
    session: Session,
    person: PersonRead,
    form: ConsentForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    t = translator_for(request)
    partners = session.execute(
        select(Partner, PartnerPolicy)
        .join(PartnerPolicy, PartnerPolicy.partner_id == Partner.id)
        .where(Partner.kind == "business")
        .order_by(Partner.name)
    ).all()
    return render(
        request,
        "sharing/consent_give.html",
        {
            "person": person,
            "values": form.model_dump(),
            "errors": errors,
            "partners": [(partner.id, f"{partner.name} ({partner.id})") for partner, _policy in partners],
            "purposes": sorted({purpose for _partner, policy in partners for purpose in policy.purposes}),
            "readable_fields": [(field, t.label(field)) for field in registry.READABLE_FIELDS],
            "show": Presenter(t),
        },
        status_code=status_code,
    )


@pages_router.get("/persons/{pin}/consents/{consent_id}/revoke")
def revoke_form(
    request: Request, pin: str, consent_id: ConsentId, console: ConsoleOfficial, session: SessionDep
) -> Response:
    """The form that records the citizen's withdrawal of one live consent."""
    require_write(console.principal)
    person = registry.get_person(session, principal=console.principal, pin=pin)
    consent = _live_consent(session, console, pin, consent_id)
    return _revoke_page(request, person, consent, RevokeForm(), FormErrors())


@pages_router.post("/persons/{pin}/consents/{consent_id}/revoke")
def revoke(
    request: Request,
    pin: str,
    consent_id: ConsentId,
    console: ConsoleOfficial,
    session: SessionDep,
    form: Annotated[RevokeForm, Form()],
) -> Response:
    require_write(console.principal)
    outcome = submit(
        session,
        lambda: consents.revoke_as_official(
            session, principal=console.principal, pin=pin, consent_id=consent_id, data=form.to_input()
        ),
    )
    if isinstance(outcome, Refused):
        raise_page_refusal(outcome.error, PAGE_REFUSALS)
        errors = FormErrors.from_error(outcome.error, translator_for(request), fields=RevokeForm.model_fields)
        person = registry.get_person(session, principal=console.principal, pin=pin)
        consent = _live_consent(session, console, pin, consent_id)
        return _revoke_page(request, person, consent, form, errors, status_code=status_of(outcome.error))
    return RedirectResponse(f"/console/persons/{outcome.pin}/consents?notice=consent_revoked", status_code=303)


def _live_consent(session: Session, console: ConsoleSession, pin: str, consent_id: int) -> ConsentRead:
    listed = consents.consents_as_official(session, principal=console.principal, pin=pin).consents
    consent = next((consent for consent in listed if consent.id == consent_id), None)
    if consent is None:
        raise NotFound(f"Person {pin.strip()} has no consent {consent_id}.", code="CONSENT_NOT_FOUND")
    if consent.state is ConsentState.REVOKED:
        raise Conflict("This consent was already revoked.", code="CONSENT_ALREADY_REVOKED")
    return consent


def _revoke_page(
    request: Request,
    person: PersonRead,
    consent: ConsentRead,
    form: RevokeForm,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    t = translator_for(request)
    return render(
        request,
        "sharing/consent_revoke.html",
        {
            "person": person,
            "consent": consent,
            "fields_text": ", ".join(t.label(field) for field in consent.fields),
            "values": form.model_dump(),
            "errors": errors,
            "show": Presenter(t),
        },
        status_code=status_code,
    )


# ---------------------------------------------------------------------------------------------
# Who used the person's data


@dataclass(frozen=True, slots=True)
class DataUseLine:
    """One use of the person's data in the official's words."""

    occurred_at: datetime
    who: str
    who_kind: str
    operation: str
    fields: str
    purpose: str
    legal_basis: str
    answered: bool
    result: str
    transaction_id: str | None
    recorded_under_pin: str | None


@pages_router.get("/persons/{pin}/data-uses")
def data_uses_page(
    request: Request,
    pin: str,
    console: ConsoleOfficial,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """Who used the person's data and why: partners' requests (answered or refused) and officials' readings."""
    person = registry.get_person(session, principal=console.principal, pin=pin)
    uses = consents.data_uses_as_official(session, principal=console.principal, pin=pin, page=page, page_size=PAGE_SIZE)
    t = translator_for(request)
    base = f"/console/persons/{person.pin}/data-uses"
    return render(
        request,
        "sharing/data_uses.html",
        {
            "person": person,
            "show": Presenter(t),
            "uses": [_line(t, use) for use in uses.items],
            "page": page,
            "page_links": {
                "previous": f"{base}?page={page - 1}" if page > 1 else None,
                "next": f"{base}?page={page + 1}" if uses.has_next else None,
            },
        },
    )


def _line(t: Translator, use: DataUseRead) -> DataUseLine:
    if use.principal_kind == "partner":
        who_kind = t(f"data_use.partner_{use.partner_kind}") if use.partner_kind else t("data_use.partner")
    elif use.principal_kind == "official":
        who_kind = t("data_use.official")
    else:
        who_kind = t("data_use.anonymous")
    operation_key = f"data_use.action.{use.operation}"
    answered = use.result in ANSWERED
    return DataUseLine(
        occurred_at=use.occurred_at,
        who=use.who if use.principal_kind != "anonymous" else "—",
        who_kind=who_kind,
        operation=t(operation_key) if t.has(operation_key) else use.operation,
        fields=", ".join(_field_label(t, field) for field in use.fields) or "—",
        purpose=_purpose_label(t, use.purpose),
        legal_basis=use.legal_basis or "—",
        answered=answered,
        result=t(f"data_use.result.{use.result}") if answered else t.error_code(use.result, fallback=use.result),
        transaction_id=use.transaction_id,
        recorded_under_pin=use.recorded_under_pin,
    )


def _purpose_label(t: Translator, purpose: str) -> str:
    """A purpose in words when it is one of the platform's own (an official's duty); a partner's code as is."""
    key = f"data_use.purpose.{purpose}"
    return t(key) if t.has(key) else purpose or "—"


def _field_label(t: Translator, field: str) -> str:
    key = f"data_use.field.{field}"
    return t(key) if t.has(key) else t.label(field)
