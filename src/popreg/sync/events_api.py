"""Event subscribers' administration (national administrators): ``/api/v1/events``.

See docs/events.md for what a subscriber receives and how it verifies a delivery's signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from popreg.kit.http import SessionDep, SettingsDep
from popreg.sharing.api import NationalAdministrator
from popreg.sync import subscribers
from popreg.sync.events_schemas import (
    DeadLetterList,
    RedeliveryRead,
    SubscriberCreate,
    SubscriberCreated,
    SubscriberList,
    SubscriberRead,
    SuspendIn,
)

router = APIRouter(prefix="/api/v1/events", tags=["events"])
SubscriberId = Annotated[str, Path(max_length=40, description="The subscriber's slug, e.g. bhxh-webhook.")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The dead letter's delivery id.")]


@router.post("/subscribers", operation_id="create_event_subscriber", response_model=SubscriberCreated, status_code=201)
def create_event_subscriber(
    data: SubscriberCreate, session: SessionDep, settings: SettingsDep, actor: NationalAdministrator
) -> SubscriberRead:
    """Register a webhook that receives the register's change events (national administrators only).

    It receives the events of `event_types` recorded from now on, each with only the changed `fields`
    its policy allows, signed with the HMAC `secret` returned here **once**. Refusals:
    `EVENT_SUBSCRIBER_ID_INVALID`, `EVENT_WEBHOOK_URL_INVALID`, `EVENT_TYPE_UNKNOWN`, `EVENT_FIELD_UNKNOWN`,
    `EVENT_SUBSCRIBER_EXISTS`, `NATIONAL_ADMIN_REQUIRED`.
    """
    subscriber, secret = subscribers.create(
        session, actor=actor, data=data, secret_key=settings.secret_key.get_secret_value()
    )
    return subscribers.views(session, [subscriber], secret=secret)[0]


@router.get("/subscribers", operation_id="list_event_subscribers", response_model=SubscriberList)
def list_event_subscribers(session: SessionDep, actor: NationalAdministrator) -> SubscriberList:
    """Every subscriber with its status and how many events wait for it (pending, dead letters)."""
    return SubscriberList(items=subscribers.views(session, subscribers.get_all(session)))


@router.get("/subscribers/{subscriber_id}", operation_id="get_event_subscriber", response_model=SubscriberRead)
def get_event_subscriber(
    subscriber_id: SubscriberId, session: SessionDep, actor: NationalAdministrator
) -> SubscriberRead:
    """One subscriber (`EVENT_SUBSCRIBER_NOT_FOUND`)."""
    return subscribers.views(session, [subscribers.get(session, subscriber_id=subscriber_id)])[0]


@router.post(
    "/subscribers/{subscriber_id}/suspend", operation_id="suspend_event_subscriber", response_model=SubscriberRead
)
def suspend_event_subscriber(
    subscriber_id: SubscriberId, data: SuspendIn, session: SessionDep, actor: NationalAdministrator
) -> SubscriberRead:
    """Stop delivering to a subscriber, giving the reason. Its events keep accumulating and are delivered,
    in order, when it is resumed. Refusal: `EVENT_SUBSCRIBER_ALREADY_SUSPENDED`."""
    subscriber = subscribers.suspend(session, actor=actor, subscriber_id=subscriber_id, reason=data.reason)
    return subscribers.views(session, [subscriber])[0]


@router.post(
    "/subscribers/{subscriber_id}/resume", operation_id="resume_event_subscriber", response_model=SubscriberRead
)
def resume_event_subscriber(
    subscriber_id: SubscriberId, session: SessionDep, actor: NationalAdministrator
) -> SubscriberRead:
    """Deliver again to a suspended subscriber, oldest waiting event first (`EVENT_SUBSCRIBER_NOT_SUSPENDED`)."""
    subscriber = subscribers.resume(session, actor=actor, subscriber_id=subscriber_id)
    return subscribers.views(session, [subscriber])[0]


@router.get("/dead-letters", operation_id="list_event_dead_letters", response_model=DeadLetterList)
def list_event_dead_letters(
    session: SessionDep,
    actor: NationalAdministrator,
    subscriber: Annotated[str | None, Query(max_length=40, description="Only this subscriber's.")] = None,
) -> DeadLetterList:
    """Events that failed every attempt (oldest first, at most 500). A dead letter holds back the
    person's later events for that subscriber until it is redelivered."""
    return DeadLetterList(items=subscribers.dead_letters(session, subscriber_id=subscriber))


@router.post(
    "/dead-letters/{delivery_id}/redeliver", operation_id="redeliver_event_dead_letter", response_model=RedeliveryRead
)
def redeliver_event_dead_letter(
    delivery_id: DeliveryId, session: SessionDep, actor: NationalAdministrator
) -> RedeliveryRead:
    """Send one dead letter again, with a fresh count of attempts. Refusals: `EVENT_DELIVERY_NOT_FOUND`,
    `EVENT_DELIVERY_NOT_DEAD`."""
    return RedeliveryRead(redelivered=subscribers.redeliver(session, actor=actor, delivery_id=delivery_id))


@router.post(
    "/subscribers/{subscriber_id}/redeliver", operation_id="redeliver_event_subscriber", response_model=RedeliveryRead
)
def redeliver_event_subscriber(
    subscriber_id: SubscriberId, session: SessionDep, actor: NationalAdministrator
) -> RedeliveryRead:
    """Send every dead letter of a subscriber again (after it has fixed its endpoint)."""
    return RedeliveryRead(redelivered=subscribers.redeliver(session, actor=actor, subscriber_id=subscriber_id))
