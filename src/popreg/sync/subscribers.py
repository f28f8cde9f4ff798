"""Subscribers of the register's change events, managed by a national administrator (or the operator
at the command line), and their dead letters.

A subscriber receives the events of the types it chose, recorded after its registration, with only
the fields its policy allows. Its HMAC secret is shown once, at creation; the database keeps it sealed
with a key derived from ``POPREG_SECRET_KEY``. Every administrative change is in the access log.
"""

from __future__ import annotations

import base64
import os
from typing import Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit.clock import utc_now
from popreg.kit.errors import Conflict, InvalidInput, NotFound
from popreg.sharing.service import Administrator
from popreg.sync.events_models import EventDelivery, EventSubscriber, EventSubscription, OutboxEvent
from popreg.sync.events_rules import (
    ALL_TYPES,
    EVENT_TYPES,
    SUBSCRIBABLE_FIELDS,
    SUBSCRIBER_ID,
    new_secret,
)
from popreg.sync.events_schemas import DeadLetterRead, SubscriberCreate, SubscriberCreated, SubscriberRead

ACTIVE: Final = "active"
SUSPENDED: Final = "suspended"
PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"
WEBHOOK: Final = "webhook"
NATS: Final = "nats"
NATS_SUBSCRIBER_ID: Final = "nats-jetstream"
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


def _record(session: Session, actor: Administrator, action: str, subscriber_id: str, reason: str = "") -> None:
    audit.record_access(
        session,
        principal_kind=actor.principal_kind,
        principal_id=actor.principal_id,
        action=action,
        person_pin=None,
        fields=(f"subscriber={subscriber_id}",),
        purpose=_ADMINISTRATION,
        legal_basis=reason,
    )


def _check(data: SubscriberCreate) -> None:
    if not SUBSCRIBER_ID.match(data.id):
        raise InvalidInput(
            "A subscriber id is 3 to 40 lower-case letters, digits and hyphens (e.g. bhxh-webhook).",
            code="EVENT_SUBSCRIBER_ID_INVALID",
            details={"field": "id", "value": data.id[:40]},
        )
    url = urlsplit(data.url)
    if url.scheme not in ("https", "http") or not url.hostname:
        raise InvalidInput(
            "The webhook must be an absolute http(s) URL.",
            code="EVENT_WEBHOOK_URL_INVALID",
            details={"field": "url"},
        )
    unknown_types = sorted(set(data.event_types) - {*EVENT_TYPES, ALL_TYPES})
    if unknown_types:
        raise InvalidInput(
            f"Unknown event types: {', '.join(unknown_types)}. Known: {', '.join(EVENT_TYPES)} or * for all.",
            code="EVENT_TYPE_UNKNOWN",
            details={"field": "event_types", "unknown": unknown_types},
        )
    unknown_fields = sorted(set(data.fields) - set(SUBSCRIBABLE_FIELDS))
    if unknown_fields:
        raise InvalidInput(
            f"Unknown fields: {', '.join(unknown_fields)}. Known: {', '.join(SUBSCRIBABLE_FIELDS)}.",
            code="EVENT_FIELD_UNKNOWN",
            details={"field": "fields", "unknown": unknown_fields},
        )


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
) -> EventSubscriber:
    now = utc_now()
    subscriber = EventSubscriber(
        id=subscriber_id,
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


def create(
    session: Session, *, actor: Administrator, data: SubscriberCreate, secret_key: str
) -> tuple[EventSubscriber, str]:
    """Register a webhook subscriber; return it with its new secret (which is never shown again)."""
    _check(data)
    if session.get(EventSubscriber, data.id) is not None:
        raise Conflict(f"A subscriber {data.id} exists already.", code="EVENT_SUBSCRIBER_EXISTS")
    secret = new_secret()
    subscriber = _add(
        session,
        subscriber_id=data.id,
        name=data.name,
        kind=WEBHOOK,
        url=data.url,
        event_types=data.event_types,
        fields=data.fields,
        sealed=seal(secret, secret_key=secret_key),
    )
    _record(session, actor, "events.subscriber.create", data.id)
    return subscriber, secret


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


def suspend(session: Session, *, actor: Administrator, subscriber_id: str, reason: str) -> EventSubscriber:
    """Stop delivering to a subscriber; its events keep accumulating and are delivered on resumption."""
    subscriber = get(session, subscriber_id=subscriber_id)
    if subscriber.status == SUSPENDED:
        raise Conflict(f"Subscriber {subscriber_id} is suspended already.", code="EVENT_SUBSCRIBER_ALREADY_SUSPENDED")
    subscriber.status, subscriber.suspension_reason, subscriber.updated_at = SUSPENDED, reason, utc_now()
    _record(session, actor, "events.subscriber.suspend", subscriber_id, reason)
    return subscriber


def resume(session: Session, *, actor: Administrator, subscriber_id: str) -> EventSubscriber:
    """Deliver again to a suspended subscriber, starting with the oldest event it has not received."""
    subscriber = get(session, subscriber_id=subscriber_id)
    if subscriber.status != SUSPENDED:
        raise Conflict(f"Subscriber {subscriber_id} is not suspended.", code="EVENT_SUBSCRIBER_NOT_SUSPENDED")
    subscriber.status, subscriber.suspension_reason, subscriber.updated_at = ACTIVE, None, utc_now()
    session.execute(
        update(EventDelivery)
        .where(EventDelivery.subscriber_id == subscriber_id, EventDelivery.status == PENDING)
        .values(next_attempt_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    _record(session, actor, "events.subscriber.resume", subscriber_id)
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
    reads = []
    for subscriber in subscribers:
        values = {
            "id": subscriber.id,
            "name": subscriber.name,
            "kind": subscriber.kind,
            "url": subscriber.url,
            "event_types": types[subscriber.id],
            "fields": subscriber.fields,
            "status": subscriber.status,
            "suspension_reason": subscriber.suspension_reason,
            "created_at": subscriber.created_at,
            "pending": counts.get((subscriber.id, PENDING), 0),
            "dead_letters": counts.get((subscriber.id, DEAD), 0),
        }
        reads.append(SubscriberCreated(**values, secret=secret) if secret else SubscriberRead(**values))
    return reads


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
    session: Session, *, actor: Administrator, subscriber_id: str | None = None, delivery_id: int | None = None
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
    _record(session, actor, "events.redeliver", subscriber_id or "*", f"{count} dead letters")
    return count
