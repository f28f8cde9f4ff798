"""Subscribers of the register's change events, managed by a national administrator (or the operator
at the command line), and their dead letters; partners manage their own through
:mod:`popreg.sync.partner_subscribers`.

A subscriber receives the events of the types it chose, recorded after its registration, with only
the fields its policy allows. Its HMAC secret is shown once, at creation; the database keeps it sealed
with a key derived from ``POPREG_SECRET_KEY``. Every change is in the access log.

A subscriber may belong to a partner (an agency of the gateway). Its fields must be within what the
partner's policy lets it read when it is registered, and each delivery carries only those the policy
allows at the time it is sent: narrowing the policy narrows the events at once, without registering
again. While the partner is suspended, or its policy lacks the ``events`` operation, its events wait.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from typing import Final, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit.clock import utc_now
from popreg.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from popreg.sharing import repository as sharing_repository
from popreg.sharing.models import Partner, PartnerPolicy
from popreg.sync.events_models import EventDelivery, EventSubscriber, EventSubscription, OutboxEvent
from popreg.sync.events_rules import (
    AGENCY,
    ALL_TYPES,
    EVENT_TYPES,
    EVENTS_OPERATION,
    SUBSCRIBABLE_FIELDS,
    SUBSCRIBER_ID,
    PartnerAllowance,
    check_webhook_url,
    new_secret,
    partner_allowance,
    partner_event_fields,
)
from popreg.sync.events_schemas import DeadLetterRead, SubscriberCreate, SubscriberCreated, SubscriberRead

ACTIVE: Final = "active"
SUSPENDED: Final = "suspended"
PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"
DELETED: Final = "deleted"
WEBHOOK: Final = "webhook"
NATS: Final = "nats"
NATS_SUBSCRIBER_ID: Final = "nats-jetstream"
DISPATCHER: Final = "system:dispatcher"  # who suspends a subscriber whose webhook answered 410 Gone
_ADMINISTRATION: Final = "event subscriber administration"


# Secrets at rest ----------------------------------------------------------------------------------------


def _sealing_key(secret_key: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"popreg webhook secrets").derive(
        secret_key.encode()
    )
    return AESGCM(derived)


def seal(secret: str, *, secret_key: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + _sealing_key(secret_key).encrypt(nonce, secret.encode(), None)).decode()


def unseal(sealed: str, *, secret_key: str) -> str:
    raw = base64.b64decode(sealed)
    return _sealing_key(secret_key).decrypt(raw[:12], raw[12:], None).decode()


# Administration -----------------------------------------------------------------------------------------


class Actor(Protocol):
    """Who changes a subscriber, as the access log names them: a national administrator, the operator
    of the command line (``system``/``cli``), or the partner that owns the subscriber."""

    @property
    def principal_kind(self) -> str: ...

    @property
    def principal_id(self) -> str: ...


def _record(session: Session, actor: Actor, action: str, subscriber_id: str, *details: str, reason: str = "") -> None:
    audit.record_access(
        session,
        principal_kind=actor.principal_kind,
        principal_id=actor.principal_id,
        action=action,
        person_pin=None,
        fields=(f"subscriber={subscriber_id}", *details),
        purpose=_ADMINISTRATION,
        legal_basis=reason,
    )


def _check(*, url: str, event_types: Iterable[str], fields: Iterable[str], public_https: bool) -> None:
    check_webhook_url(url, public_https=public_https)
    unknown_types = sorted(set(event_types) - {*EVENT_TYPES, ALL_TYPES})
    if unknown_types:
        raise InvalidInput(
            f"Unknown event types: {', '.join(unknown_types)}. Known: {', '.join(EVENT_TYPES)} or * for all.",
            code="EVENT_TYPE_UNKNOWN",
            details={"field": "event_types", "unknown": unknown_types},
        )
    unknown_fields = sorted(set(fields) - set(SUBSCRIBABLE_FIELDS))
    if unknown_fields:
        raise InvalidInput(
            f"Unknown fields: {', '.join(unknown_fields)}. Known: {', '.join(SUBSCRIBABLE_FIELDS)}.",
            code="EVENT_FIELD_UNKNOWN",
            details={"field": "fields", "unknown": unknown_fields},
        )


def check_partner_may_subscribe(session: Session, *, partner_id: str, fields: Iterable[str]) -> Partner:
    """A partner's subscriber is allowed when the partner is an agency whose policy, as stored now,
    has the ``events`` operation and lets it read every field asked for (``full_name`` covers the
    name's parts, ``birth_date`` its precision). A suspended partner may be given one by an
    administrator: its events wait until the partner is resumed."""
    found = sharing_repository.partner_with_policy(session, partner_id=partner_id)
    if found is None:
        raise NotFound(f"No partner {partner_id[:40]!r}.", code="PARTNER_NOT_FOUND")
    partner, policy = found
    if partner.kind != AGENCY:
        raise Forbidden(
            "Only an agency receives change events: a business reads a person's data only with that "
            "person's consent, for one purpose.",
            code="EVENT_PARTNER_NOT_AGENCY",
        )
    if EVENTS_OPERATION not in policy.operations:
        raise Forbidden(
            f"The partner's policy does not allow the operation '{EVENTS_OPERATION}'.",
            code="POLICY_OPERATION_DENIED",
            details={"operation": EVENTS_OPERATION},
        )
    allowed = partner_event_fields(policy.read_fields)
    denied = sorted(set(fields) - allowed)
    if denied:
        raise Forbidden(
            f"The partner's policy does not allow reading: {', '.join(denied)}. "
            f"Allowed in events: {', '.join(sorted(allowed)) or 'no field'}.",
            code="EVENT_FIELD_DENIED",
            details={"field": "fields", "fields": denied, "allowed": sorted(allowed)},
        )
    return partner


def partner_allowances(session: Session, *, partner_ids: Iterable[str] | None = None) -> dict[str, PartnerAllowance]:
    """What the current status and policy of each partner owning a subscriber (or of ``partner_ids``)
    let its subscribers receive."""
    owners: Select[str | None] | list[str]
    if partner_ids is None:
        owners = select(EventSubscriber.partner_id).where(EventSubscriber.partner_id.is_not(None)).distinct()
    else:
        owners = sorted(set(partner_ids))
        if not owners:
            return {}
    rows = session.execute(
        select(Partner.id, Partner.status, Partner.kind, PartnerPolicy.operations, PartnerPolicy.read_fields)
        .join(PartnerPolicy, PartnerPolicy.partner_id == Partner.id)
        .where(Partner.id.in_(owners))
    )
    return {
        row.id: partner_allowance(
            status=row.status, kind=row.kind, operations=row.operations, read_fields=row.read_fields
        )
        for row in rows
    }


def _latest_outbox_id(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.max(OutboxEvent.id), 0))).scalar_one())


def _add(
    session: Session,
    *,
    subscriber_id: str,
    name: str,
    kind: str,
    url: str | None,
    event_types: list[str],
    fields: list[str],
    sealed: str | None,
    partner_id: str | None = None,
) -> EventSubscriber:
    now = utc_now()
    subscriber = EventSubscriber(
        id=subscriber_id,
        partner_id=partner_id,
        name=name,
        kind=kind,
        url=url,
        fields=sorted(set(fields)),
        secret_sealed=sealed,
        status=ACTIVE,
        suspension_reason=None,
        start_after=_latest_outbox_id(session),
        created_at=now,
        updated_at=now,
    )
    session.add(subscriber)
    session.add_all(
        EventSubscription(subscriber_id=subscriber_id, event_type=kind) for kind in sorted(set(event_types))
    )
    session.flush()
    return subscriber


def register(
    session: Session,
    *,
    actor: Actor,
    subscriber_id: str,
    name: str | None,
    url: str,
    event_types: list[str],
    fields: list[str],
    partner_id: str | None,
    secret_key: str,
    development: bool,
) -> tuple[EventSubscriber, str]:
    """Register a webhook subscriber; return it with its new secret (which is never shown again). It is
    named ``name``, or after its partner, or by its id.

    A partner's webhook must be https, on the internet, outside the ``development`` profile: it lies
    outside the platform's network, and the events carry personal data."""
    if not SUBSCRIBER_ID.match(subscriber_id):
        raise InvalidInput(
            "A subscriber id is 3 to 40 lower-case letters, digits and hyphens (e.g. bhxh-webhook).",
            code="EVENT_SUBSCRIBER_ID_INVALID",
            details={"field": "id", "value": subscriber_id[:40]},
        )
    _check(url=url, event_types=event_types, fields=fields, public_https=partner_id is not None and not development)
    if session.get(EventSubscriber, subscriber_id) is not None:
        raise Conflict(f"A subscriber {subscriber_id} exists already.", code="EVENT_SUBSCRIBER_EXISTS")
    partner = None if partner_id is None else check_partner_may_subscribe(session, partner_id=partner_id, fields=fields)
    secret = new_secret()
    subscriber = _add(
        session,
        subscriber_id=subscriber_id,
        name=name or (partner.name if partner else subscriber_id),
        kind=WEBHOOK,
        url=url,
        event_types=event_types,
        fields=fields,
        sealed=seal(secret, secret_key=secret_key),
        partner_id=partner_id,
    )
    _record(
        session, actor, "events.subscriber.create", subscriber_id, *([f"partner={partner_id}"] if partner_id else [])
    )
    return subscriber, secret


def create(
    session: Session, *, actor: Actor, data: SubscriberCreate, secret_key: str, development: bool
) -> tuple[EventSubscriber, str]:
    """Register a webhook subscriber for an administrator, for a partner when ``data.partner_id`` is set."""
    return register(
        session,
        actor=actor,
        subscriber_id=data.id,
        name=data.name,
        url=data.url,
        event_types=data.event_types,
        fields=data.fields,
        partner_id=data.partner_id,
        secret_key=secret_key,
        development=development,
    )


def ensure_nats_subscriber(session: Session) -> EventSubscriber:
    """The JetStream stream as a subscriber of every event with every field (created on first use)."""
    existing = session.get(EventSubscriber, NATS_SUBSCRIBER_ID)
    if existing is not None:
        return existing
    return _add(
        session,
        subscriber_id=NATS_SUBSCRIBER_ID,
        name="NATS JetStream",
        kind=NATS,
        url=None,
        event_types=[ALL_TYPES],
        fields=list(SUBSCRIBABLE_FIELDS),
        sealed=None,
    )


def get(session: Session, *, subscriber_id: str) -> EventSubscriber:
    subscriber = session.get(EventSubscriber, subscriber_id)
    if subscriber is None:
        raise NotFound(f"No event subscriber {subscriber_id[:40]}.", code="EVENT_SUBSCRIBER_NOT_FOUND")
    return subscriber


def get_all(session: Session) -> list[EventSubscriber]:
    return list(session.scalars(select(EventSubscriber).order_by(EventSubscriber.id)))


def suspend(session: Session, *, actor: Actor, subscriber_id: str, reason: str) -> EventSubscriber:
    """Stop delivering to a subscriber; its events keep accumulating and are delivered on resumption."""
    subscriber = get(session, subscriber_id=subscriber_id)
    if subscriber.status == DELETED:
        raise Conflict(f"Subscriber {subscriber_id} was deleted.", code="EVENT_SUBSCRIBER_DELETED")
    if subscriber.status == SUSPENDED:
        raise Conflict(f"Subscriber {subscriber_id} is suspended already.", code="EVENT_SUBSCRIBER_ALREADY_SUSPENDED")
    subscriber.status, subscriber.suspension_reason, subscriber.updated_at = SUSPENDED, reason, utc_now()
    subscriber.suspended_by = f"{actor.principal_kind}:{actor.principal_id}"[:160]
    _record(session, actor, "events.subscriber.suspend", subscriber_id, reason=reason)
    return subscriber


def resume(session: Session, *, actor: Actor, subscriber_id: str) -> EventSubscriber:
    """Deliver again to a suspended subscriber, starting with the oldest event it has not received."""
    subscriber = get(session, subscriber_id=subscriber_id)
    if subscriber.status != SUSPENDED:
        raise Conflict(f"Subscriber {subscriber_id} is not suspended.", code="EVENT_SUBSCRIBER_NOT_SUSPENDED")
    subscriber.status, subscriber.suspension_reason, subscriber.updated_at = ACTIVE, None, utc_now()
    subscriber.suspended_by = None
    session.execute(
        update(EventDelivery)
        .where(EventDelivery.subscriber_id == subscriber_id, EventDelivery.status == PENDING)
        .values(next_attempt_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    _record(session, actor, "events.subscriber.resume", subscriber_id)
    return subscriber


def delete(session: Session, *, actor: Actor, subscriber_id: str) -> EventSubscriber:
    """Remove a subscriber: it receives nothing more, and its events still waiting are never sent. The
    record and its past deliveries are kept (who received what stays answerable); its secret is not."""
    subscriber = get(session, subscriber_id=subscriber_id)
    if subscriber.status == DELETED:
        raise Conflict(f"Subscriber {subscriber_id} was deleted.", code="EVENT_SUBSCRIBER_DELETED")
    subscriber.status, subscriber.suspension_reason, subscriber.updated_at = DELETED, None, utc_now()
    subscriber.secret_sealed = None
    _record(session, actor, "events.subscriber.delete", subscriber_id)
    return subscriber


def views(session: Session, subscribers: list[EventSubscriber], *, secret: str | None = None) -> list[SubscriberRead]:
    ids = [subscriber.id for subscriber in subscribers]
    types: dict[str, list[str]] = {subscriber_id: [] for subscriber_id in ids}
    for row in session.execute(
        select(EventSubscription.subscriber_id, EventSubscription.event_type)
        .where(EventSubscription.subscriber_id.in_(ids))
        .order_by(EventSubscription.event_type)
    ):
        types[row.subscriber_id].append(row.event_type)
    counts: dict[tuple[str, str], int] = {
        (row.subscriber_id, row.status): int(row.waiting)
        for row in session.execute(
            select(EventDelivery.subscriber_id, EventDelivery.status, func.count().label("waiting"))
            .where(EventDelivery.subscriber_id.in_(ids), EventDelivery.status.in_((PENDING, DEAD)))
            .group_by(EventDelivery.subscriber_id, EventDelivery.status)
        )
    }
    allowances = partner_allowances(
        session, partner_ids=[subscriber.partner_id for subscriber in subscribers if subscriber.partner_id]
    )
    reads = []
    for subscriber in subscribers:
        delivered, waiting = _delivered_fields(subscriber, allowances)
        values = {
            "id": subscriber.id,
            "name": subscriber.name,
            "kind": subscriber.kind,
            "url": subscriber.url,
            "partner_id": subscriber.partner_id,
            "event_types": types[subscriber.id],
            "fields": subscriber.fields,
            "delivered_fields": delivered,
            "status": subscriber.status,
            "suspension_reason": subscriber.suspension_reason,
            "waiting_reason": waiting if subscriber.status == ACTIVE else None,
            "created_at": subscriber.created_at,
            "pending": counts.get((subscriber.id, PENDING), 0),
            "dead_letters": counts.get((subscriber.id, DEAD), 0),
        }
        reads.append(SubscriberCreated(**values, secret=secret) if secret else SubscriberRead(**values))
    return reads


def _delivered_fields(
    subscriber: EventSubscriber, allowances: dict[str, PartnerAllowance]
) -> tuple[list[str], str | None]:
    """The fields the subscriber's events carry now, and why they wait although it is active (if so)."""
    if subscriber.partner_id is None:
        return list(subscriber.fields), None
    allowance = allowances.get(subscriber.partner_id, PartnerAllowance(frozenset(), "The partner has no policy."))
    return [field for field in subscriber.fields if field in allowance.fields], allowance.waiting


# Dead letters -------------------------------------------------------------------------------------------


def dead_letters(session: Session, *, subscriber_id: str | None = None, limit: int = 500) -> list[DeadLetterRead]:
    """Events that failed every attempt, oldest first; each holds back its person's later events for
    that subscriber until it is redelivered."""
    query = (
        select(EventDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.outbox_id)
        .where(EventDelivery.status == DEAD)
        .order_by(EventDelivery.outbox_id)
        .limit(limit)
    )
    if subscriber_id is not None:
        get(session, subscriber_id=subscriber_id)
        query = query.where(EventDelivery.subscriber_id == subscriber_id)
    return [
        DeadLetterRead(
            delivery_id=delivery.id,
            subscriber_id=delivery.subscriber_id,
            event_id=event.event_id,
            event_type=event.event_type,
            pin=event.pin,
            sequence=event.sequence,
            attempts=delivery.attempts,
            last_error=delivery.last_error,
            dead_at=delivery.dead_at,
        )
        for delivery, event in session.execute(query)
    ]


def redeliver(
    session: Session, *, actor: Actor, subscriber_id: str | None = None, delivery_id: int | None = None
) -> int:
    """Put dead letters (one, or all of a subscriber) back in the queue with a fresh count of attempts."""
    query = update(EventDelivery).where(EventDelivery.status == DEAD)
    if delivery_id is not None:
        delivery = session.get(EventDelivery, delivery_id)
        if delivery is None:
            raise NotFound(f"No delivery {delivery_id}.", code="EVENT_DELIVERY_NOT_FOUND")
        if delivery.status != DEAD:
            raise Conflict(f"Delivery {delivery_id} is not a dead letter.", code="EVENT_DELIVERY_NOT_DEAD")
        query = query.where(EventDelivery.id == delivery_id)
        subscriber_id = delivery.subscriber_id
    elif subscriber_id is not None:
        get(session, subscriber_id=subscriber_id)
        query = query.where(EventDelivery.subscriber_id == subscriber_id)
    result = session.execute(
        query.values(
            status=PENDING, attempts=0, next_attempt_at=utc_now(), dead_at=None, leased_by=None, lease_until=None
        ).execution_options(synchronize_session=False)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    _record(session, actor, "events.redeliver", subscriber_id or "*", reason=f"{count} dead letters")
    return count
