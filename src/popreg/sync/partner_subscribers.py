"""A partner's own event subscriptions: an agency whose policy has the ``events`` operation registers
its webhooks with its access token, lists them, suspends, resumes and deletes them, and has their dead
letters sent again.

A partner sees only its own subscriptions: another partner's, or one it deleted, answers exactly like
an id nobody uses (``EVENT_SUBSCRIBER_NOT_FOUND``), so a partner learns nothing of the others. Every
change is in the access log under the partner's name.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from popreg.kit.errors import Forbidden, NotFound
from popreg.sync import subscribers
from popreg.sync.events_models import EventSubscriber
from popreg.sync.events_schemas import SubscriptionCreate

ID_PREFIX: Final = "sub-"


@dataclass(frozen=True, slots=True)
class PartnerActor:
    """A partner acting on its own subscriptions, as the access log names it (``partner``/its id)."""

    principal_id: str
    principal_kind: str = "partner"


def create(
    session: Session, *, partner_id: str, data: SubscriptionCreate, secret_key: str, development: bool
) -> tuple[EventSubscriber, str]:
    """Register a webhook of the partner; return it with its secret, shown only this once.

    It receives the events of ``data.event_types`` recorded from now on, each with the changed fields of
    ``data.fields`` that the partner's policy lets it read when the event is sent. Refused: a field
    outside the policy (``EVENT_FIELD_DENIED``), a partner that is not an agency
    (``EVENT_PARTNER_NOT_AGENCY``), a webhook that is not https on the internet outside the development
    profile (``EVENT_WEBHOOK_HTTPS_REQUIRED``, ``EVENT_WEBHOOK_URL_NOT_PUBLIC``)."""
    return subscribers.register(
        session,
        actor=PartnerActor(partner_id),
        subscriber_id=ID_PREFIX + secrets.token_hex(8),
        name=data.name,
        url=data.url,
        event_types=data.event_types,
        fields=data.fields,
        partner_id=partner_id,
        secret_key=secret_key,
        development=development,
    )


def get(session: Session, *, partner_id: str, subscription_id: str) -> EventSubscriber:
    subscriber = session.get(EventSubscriber, subscription_id)
    if subscriber is None or subscriber.partner_id != partner_id or subscriber.status == subscribers.DELETED:
        raise NotFound(f"No event subscriber {subscription_id[:40]}.", code="EVENT_SUBSCRIBER_NOT_FOUND")
    return subscriber


def get_all(session: Session, *, partner_id: str) -> list[EventSubscriber]:
    return list(
        session.scalars(
            select(EventSubscriber)
            .where(EventSubscriber.partner_id == partner_id, EventSubscriber.status != subscribers.DELETED)
            .order_by(EventSubscriber.created_at, EventSubscriber.id)
        )
    )


def delete(session: Session, *, partner_id: str, subscription_id: str) -> None:
    """Stop a subscription for good: no more events, and those still waiting are never sent."""
    get(session, partner_id=partner_id, subscription_id=subscription_id)
    subscribers.delete(session, actor=PartnerActor(partner_id), subscriber_id=subscription_id)


def suspend(session: Session, *, partner_id: str, subscription_id: str, reason: str) -> EventSubscriber:
    """Pause a subscription (maintenance of the webhook): its events wait, in order, for the resumption."""
    get(session, partner_id=partner_id, subscription_id=subscription_id)
    return subscribers.suspend(session, actor=PartnerActor(partner_id), subscriber_id=subscription_id, reason=reason)


def resume(session: Session, *, partner_id: str, subscription_id: str) -> EventSubscriber:
    """Deliver again to a subscription the partner suspended, or that was suspended because its webhook
    answered 410. One an administrator suspended stays so until an administrator resumes it
    (``EVENT_SUBSCRIBER_SUSPENDED_BY_ADMINISTRATOR``)."""
    subscriber = get(session, partner_id=partner_id, subscription_id=subscription_id)
    own = PartnerActor(partner_id)
    if subscriber.suspended_by not in (None, f"{own.principal_kind}:{own.principal_id}", subscribers.DISPATCHER):
        raise Forbidden(
            "An administrator of the platform suspended this subscription; ask them to resume it.",
            code="EVENT_SUBSCRIBER_SUSPENDED_BY_ADMINISTRATOR",
        )
    return subscribers.resume(session, actor=PartnerActor(partner_id), subscriber_id=subscription_id)


def redeliver(session: Session, *, partner_id: str, subscription_id: str) -> int:
    """Send the subscription's dead letters again, with a fresh count of attempts, in order per person."""
    get(session, partner_id=partner_id, subscription_id=subscription_id)
    return subscribers.redeliver(session, actor=PartnerActor(partner_id), subscriber_id=subscription_id)
