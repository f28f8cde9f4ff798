"""What a citizen controls and sees of the sharing of their data: the consents they give to business
partners, and who used their data and why.

A business reads a person only with that person's live consent for that partner, that purpose and
those attributes (Decree 13/2023 on personal data protection, Art. 11: consent is specific to a
purpose and may be withdrawn at any time, Art. 12). An agency needs no consent: it states the legal
basis of each read instead.

The core functions (:func:`give`, :func:`revoke`, :func:`list_for_person`, :func:`data_uses`) act for
the citizen and check nothing about who calls them: the citizen portal will call them once the
citizen is authenticated. Until then an official records and revokes consents at the counter on the
citizen's behalf, within their jurisdiction, through the ``*_as_official`` functions, which check
role and jurisdiction and write the access log like every read of a person.

A consent is the human's, not the record's: when a duplicate record is merged into the record kept,
the consents given under the retired PIN count for the surviving PIN (reads, lists, withdrawal),
without any change to the consents themselves (the PINs merged into a record are looked up in the
same query, chains of merges included).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from popreg.officials.rules import OfficialPrincipal, require_jurisdiction, require_write
from popreg.registry import service as registry
from popreg.registry.rules import LifeStatus, require_alive
from popreg.sharing.consent_models import Consent
from popreg.sharing.models import Partner

MAX_PURPOSE_LENGTH = 60
_PURPOSE = re.compile(r"[a-z][a-z0-9_-]{1,59}")
MIN_EVIDENCE_LENGTH = 3


class ConsentState(StrEnum):
    LIVE = "live"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ConsentIn(BaseModel):
    """A consent the citizen gives: which partner may read which attributes, for which purpose."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    partner_id: str = Field(min_length=1, max_length=40, examples=["vietbank"])
    purpose: str = Field(
        min_length=1,
        max_length=MAX_PURPOSE_LENGTH,
        description="The purpose code the partner will state when it reads (one of its policy's purposes).",
        examples=["account-opening"],
    )
    fields: list[str] = Field(
        min_length=1,
        max_length=len(registry.READABLE_FIELDS),
        description=f"The attributes the citizen agrees to share: any of {', '.join(registry.READABLE_FIELDS)}.",
        examples=[["full_name", "birth_date", "permanent_address"]],
    )
    expires_on: date | None = Field(
        default=None, description="The last day (Vietnam time) the consent holds; none: until revoked."
    )
    evidence: str = Field(
        min_length=MIN_EVIDENCE_LENGTH,
        max_length=300,
        description="What the consent rests on: the number of the form the citizen signed, or the portal transaction.",
        examples=["Phiếu đồng ý chia sẻ dữ liệu số 15/2026, ký ngày 02/01/2026"],
    )


class ConsentRevokeIn(BaseModel):
    """The citizen withdraws a consent; the partner's next read is refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    evidence: str = Field(
        min_length=MIN_EVIDENCE_LENGTH,
        max_length=300,
        description="The citizen's request to withdraw: form number and date, or the portal transaction.",
        examples=["Đơn rút lại sự đồng ý ngày 05/02/2026"],
    )


class ConsentRead(BaseModel):
    id: int
    pin: str = Field(description="The person's PIN, as asked for.")
    given_under_pin: str | None = Field(
        default=None,
        description="The PIN the consent was given under, when it is a duplicate record since merged into "
        "this person's record (the consent holds for this PIN); null for a consent given under this PIN.",
    )
    partner_id: str
    partner_name: str
    partner_kind: str
    purpose: str
    fields: list[str]
    given_at: datetime
    expires_on: date | None
    evidence: str
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revocation_evidence: str | None
    state: ConsentState


class ConsentList(BaseModel):
    pin: str
    consents: list[ConsentRead]


class DataUseRead(BaseModel):
    """One use of a person's data, as the access log recorded it."""

    seq: int = Field(description="The entry's position in the access log.")
    occurred_at: datetime
    principal_kind: str = Field(description="partner, official, or anonymous (a request that did not authenticate).")
    principal_id: str
    who: str = Field(description="The partner's name, or the official's username.")
    partner_kind: str | None = Field(description="agency or business, for a partner.")
    operation: str = Field(examples=["read", "verify", "person.read"])
    fields: list[str]
    purpose: str
    legal_basis: str
    result: str = Field(description="ok, match or no_match when answered; the refusal's error code otherwise.")
    transaction_id: str | None
    position: int | None = Field(description="The person's position in a batch or bulk request; none for one person.")
    recorded_under_pin: str | None = Field(
        default=None,
        description="The PIN the access named when it is that of a duplicate record merged into this one.",
    )


class DataUsePage(BaseModel):
    pin: str
    items: list[DataUseRead]
    page: int
    page_size: int
    has_next: bool


# ---------------------------------------------------------------------------------------------
# For the citizen (the portal calls these once the citizen is authenticated)


def give(
    session: Session,
    *,
    pin: str,
    data: ConsentIn,
    recorded_by: str,
    today: date,
) -> Consent:
    """Record a consent of the person with ``pin``.

    The person must be alive (a deceased person cannot consent), the partner registered, every
    attribute one the register shares, and the expiry, if any, not in the past.
    """
    person = registry.get_person_record(session, pin=pin)
    require_alive(LifeStatus(person.life_status), action="record a consent")
    partner = session.get(Partner, data.partner_id)
    if partner is None:
        raise NotFound(
            f"No partner {data.partner_id} is registered; check the partner's identifier.",
            code="PARTNER_NOT_FOUND",
            details={"field": "partner_id"},
        )
    purpose = _purpose(data.purpose)
    fields = _fields(data.fields)
    if data.expires_on is not None and data.expires_on < today:
        raise InvalidInput(
            f"The consent would have expired already ({data.expires_on.isoformat()}); give a later day or none.",
            code="CONSENT_EXPIRY_IN_PAST",
            details={"field": "expires_on"},
        )
    consent = Consent(
        person_pin=person.pin,
        partner_id=partner.id,
        purpose=purpose,
        fields=list(fields),
        given_at=utc_now(),
        expires_on=data.expires_on,
        evidence=_evidence(data.evidence),
        recorded_by=recorded_by,
        revoked_at=None,
        revoked_by=None,
        revocation_evidence=None,
    )
    session.add(consent)
    session.flush()
    return consent


def revoke(session: Session, *, pin: str, consent_id: int, data: ConsentRevokeIn, revoked_by: str) -> Consent:
    """Withdraw a consent from now on. What the partner read before stays lawful and logged."""
    consent = _consent_of(session, pin=pin, consent_id=consent_id, for_update=True)
    if consent.revoked_at is not None:
        raise Conflict("This consent was already revoked.", code="CONSENT_ALREADY_REVOKED")
    consent.revoked_at = utc_now()
    consent.revoked_by = revoked_by
    consent.revocation_evidence = _evidence(data.evidence)
    session.flush()
    return consent


def list_for_person(session: Session, *, pin: str) -> list[Consent]:
    """Every consent the person ever gave, newest first (revoked and expired ones included), also
    those given under a PIN since merged into this person's record."""
    return list(session.execute(select(Consent).where(_of_person(pin.strip())).order_by(Consent.id.desc())).scalars())


def list_for_partner(session: Session, *, partner_id: str, live_on: date | None = None) -> list[Consent]:
    """The consents given to one partner, newest first; with ``live_on``, only those live that day."""
    query = select(Consent).where(Consent.partner_id == partner_id)
    if live_on is not None:
        query = query.where(
            Consent.revoked_at.is_(None), (Consent.expires_on.is_(None)) | (Consent.expires_on >= live_on)
        )
    return list(session.execute(query.order_by(Consent.id.desc())).scalars())


def state_of(consent: Consent, *, today: date) -> ConsentState:
    """Withdrawn from ``revoked_at`` on; lapsed the day after ``expires_on`` (Vietnam time)."""
    if consent.revoked_at is not None:
        return ConsentState.REVOKED
    if consent.expires_on is not None and consent.expires_on < today:
        return ConsentState.EXPIRED
    return ConsentState.LIVE


def require_consent(
    session: Session, *, pin: str, partner_id: str, purpose: str, fields: Iterable[str], today: date
) -> None:
    """Refuse a business's read unless the person's live consents for that partner and purpose cover
    every attribute asked for.

    Several live consents for the same partner and purpose add up, those given under a PIN since
    merged into the person's record included (one query). A PIN nobody holds has no consent,
    so it is refused exactly like a person who never consented (``CONSENT_REQUIRED``): a partner
    learns nothing about whether a PIN exists. ``CONSENT_REVOKED`` and ``CONSENT_EXPIRED`` are said
    only when a consent covering the request existed, which the partner already knew.
    """
    wanted = set(fields)
    consents = session.execute(
        select(Consent)
        .where(_of_person(pin), Consent.partner_id == partner_id, Consent.purpose == purpose)
        .order_by(Consent.id.desc())
    ).scalars()
    granted: set[str] = set()
    covering_lapsed: Consent | None = None
    for consent in consents:
        if state_of(consent, today=today) is ConsentState.LIVE:
            granted.update(consent.fields)
        elif covering_lapsed is None and wanted <= set(consent.fields):
            covering_lapsed = consent
    if wanted <= granted:
        return
    if covering_lapsed is not None and covering_lapsed.revoked_at is not None:
        raise Forbidden(
            "The person revoked their consent to this reading; ask them for a new consent.", code="CONSENT_REVOKED"
        )
    if covering_lapsed is not None:
        raise Forbidden(
            "The person's consent to this reading has expired; ask them for a new consent.", code="CONSENT_EXPIRED"
        )
    raise Forbidden(
        "Reading this person's data needs their consent for your organisation, this purpose and every "
        "attribute asked for; the person gives it at a police counter (later also on the citizen portal).",
        code="CONSENT_REQUIRED",
    )


def data_uses(session: Session, *, pin: str, page: int = 1, page_size: int = 20) -> DataUsePage:
    """Who used the person's data and why, newest first: every partner request (answered or refused)
    and every official's reading, as the access log recorded them, under the record's PIN or that of a
    duplicate record merged into it."""
    page, page_size = max(page, 1), min(max(page_size, 1), 100)
    # The person's PINs: the record's own and those of duplicate records merged into it.
    pins = {pin, *session.execute(registry.pins_of_same_person(pin)).scalars()}
    entries = audit.entries_for_person(session, pins=pins, limit=page * page_size + 1)
    shown = entries[(page - 1) * page_size : page * page_size]
    partners = _partners(session, {e.principal_id for e in shown if e.principal_kind == "partner"})
    items = [_data_use(entry, partners, asked=pin) for entry in shown]
    return DataUsePage(pin=pin, items=items, page=page, page_size=page_size, has_next=len(entries) > page * page_size)


# ---------------------------------------------------------------------------------------------
# For an official acting at the counter on the citizen's behalf


def give_as_official(session: Session, *, principal: OfficialPrincipal, pin: str, data: ConsentIn) -> ConsentRead:
    """Record, on the citizen's behalf, a consent the citizen signed at the counter."""
    require_write(principal)
    _check_jurisdiction(session, principal, pin)
    consent = give(session, pin=pin, data=data, recorded_by=principal.actor, today=today_in_vietnam())
    _log(session, principal, action="consent.give", consent=consent)
    return consent_view(session, consent, today=today_in_vietnam())


def revoke_as_official(
    session: Session, *, principal: OfficialPrincipal, pin: str, consent_id: int, data: ConsentRevokeIn
) -> ConsentRead:
    """Record, on the citizen's behalf, the withdrawal of a consent."""
    require_write(principal)
    person_pin = _check_jurisdiction(session, principal, pin)
    consent = revoke(session, pin=person_pin, consent_id=consent_id, data=data, revoked_by=principal.actor)
    _log(session, principal, action="consent.revoke", consent=consent, pin=person_pin)
    return consent_view(session, consent, today=today_in_vietnam(), pin=person_pin)


def consents_as_official(
    session: Session, *, principal: OfficialPrincipal, pin: str, purpose: str = registry.DEFAULT_PURPOSE
) -> ConsentList:
    """A person's consents, for an official who may read the person (auditors too)."""
    person_pin = _check_jurisdiction(session, principal, pin)
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="consent.list",
        person_pin=person_pin,
        fields=("consents",),
        purpose=purpose,
    )
    today = today_in_vietnam()
    consents = list_for_person(session, pin=person_pin)
    partners = _partners(session, {consent.partner_id for consent in consents})
    return ConsentList(
        pin=person_pin,
        consents=[_view(consent, partners.get(consent.partner_id), today, pin=person_pin) for consent in consents],
    )


def data_uses_as_official(
    session: Session,
    *,
    principal: OfficialPrincipal,
    pin: str,
    page: int = 1,
    page_size: int = 20,
    purpose: str = registry.DEFAULT_PURPOSE,
) -> DataUsePage:
    """Who used a person's data, for an official who may read the person (auditors too).

    Looking is itself a use of the person's data, so it is logged before the list is read: the list
    shows this very look first.
    """
    person_pin = _check_jurisdiction(session, principal, pin)
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action="person.data_uses",
        person_pin=person_pin,
        fields=("access_log",),
        purpose=purpose,
    )
    return data_uses(session, pin=person_pin, page=page, page_size=page_size)


def consent_view(session: Session, consent: Consent, *, today: date, pin: str | None = None) -> ConsentRead:
    """A consent as shown under ``pin`` (by default the PIN it was given under)."""
    return _view(consent, session.get(Partner, consent.partner_id), today, pin=pin)


# ---------------------------------------------------------------------------------------------
# Shared


def _check_jurisdiction(session: Session, principal: OfficialPrincipal, pin: str) -> str:
    person = registry.get_person_record(session, pin=pin)
    require_jurisdiction(principal, registry.person_places(session, person))
    return person.pin


def _of_person(pin: str) -> ColumnElement[bool]:
    """The consents of the person of ``pin``: given under it or under a PIN since merged into its record."""
    return Consent.person_pin.in_(registry.pins_of_same_person(pin))


def _consent_of(session: Session, *, pin: str, consent_id: int, for_update: bool = False) -> Consent:
    query = select(Consent).where(Consent.id == consent_id, _of_person(pin.strip()))
    if for_update:
        query = query.with_for_update()
    consent = session.execute(query).scalar_one_or_none()
    if consent is None:
        raise NotFound(f"Person {pin.strip()} has no consent {consent_id}.", code="CONSENT_NOT_FOUND")
    return consent


def _log(
    session: Session, principal: OfficialPrincipal, *, action: str, consent: Consent, pin: str | None = None
) -> None:
    audit.record_access(
        session,
        principal_kind="official",
        principal_id=principal.username,
        action=action,
        person_pin=pin or consent.person_pin,
        fields=consent.fields,
        purpose=consent.purpose,
        legal_basis=consent.revocation_evidence or consent.evidence,
    )


def _purpose(purpose: str) -> str:
    """A purpose is written as partners' policies write it: a short lower-case code."""
    text = purpose.strip()
    if not _PURPOSE.fullmatch(text):
        raise InvalidInput(
            "Name the purpose as in the partner's policy: a code of 2 to 60 lower-case letters, digits, '-' "
            "and '_', starting with a letter (account-opening).",
            code="CONSENT_PURPOSE_INVALID",
            details={"field": "purpose"},
        )
    return text


def _fields(fields: Sequence[str]) -> tuple[str, ...]:
    """The attributes of a consent, each once, in the register's order."""
    asked = {field.strip() for field in fields if field.strip()}
    if not asked:
        raise InvalidInput(
            "Choose at least one attribute the citizen agrees to share.",
            code="CONSENT_FIELDS_REQUIRED",
            details={"field": "fields"},
        )
    unknown = sorted(asked - set(registry.READABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            f"The register shares only these attributes: {', '.join(registry.READABLE_FIELDS)}.",
            code="READ_FIELD_UNKNOWN",
            details={"field": "fields", "unknown": unknown},
        )
    return tuple(field for field in registry.READABLE_FIELDS if field in asked)


def _evidence(evidence: str) -> str:
    text = evidence.strip()
    if len(text) < MIN_EVIDENCE_LENGTH:
        raise InvalidInput(
            "Cite what the consent or its withdrawal rests on: the number and date of the form the citizen "
            "signed, or the portal transaction.",
            code="CONSENT_EVIDENCE_REQUIRED",
            details={"field": "evidence"},
        )
    return text


def _partners(session: Session, ids: set[str]) -> dict[str, Partner]:
    if not ids:
        return {}
    return {partner.id: partner for partner in session.execute(select(Partner).where(Partner.id.in_(ids))).scalars()}


def _view(consent: Consent, partner: Partner | None, today: date, *, pin: str | None = None) -> ConsentRead:
    shown_under = pin or consent.person_pin
    return ConsentRead(
        id=consent.id,
        pin=shown_under,
        given_under_pin=consent.person_pin if consent.person_pin != shown_under else None,
        partner_id=consent.partner_id,
        partner_name=partner.name if partner else consent.partner_id,
        partner_kind=partner.kind if partner else "",
        purpose=consent.purpose,
        fields=list(consent.fields),
        given_at=consent.given_at,
        expires_on=consent.expires_on,
        evidence=consent.evidence,
        recorded_by=consent.recorded_by,
        revoked_at=consent.revoked_at,
        revoked_by=consent.revoked_by,
        revocation_evidence=consent.revocation_evidence,
        state=state_of(consent, today=today),
    )


def _data_use(entry: audit.PersonAccess, partners: dict[str, Partner], *, asked: str) -> DataUseRead:
    partner = partners.get(entry.principal_id) if entry.principal_kind == "partner" else None
    return DataUseRead(
        seq=entry.seq,
        occurred_at=entry.occurred_at,
        principal_kind=entry.principal_kind,
        principal_id=entry.principal_id,
        who=partner.name if partner else entry.principal_id,
        partner_kind=partner.kind if partner else None,
        operation=entry.action,
        fields=list(entry.fields),
        purpose=entry.purpose,
        legal_basis=entry.legal_basis,
        result=entry.result,
        transaction_id=entry.transaction_id,
        position=entry.position,
        recorded_under_pin=entry.pin if entry.pin != asked else None,
    )
