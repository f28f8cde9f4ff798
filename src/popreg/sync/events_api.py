"""The events API, ``/api/v1/events``: national administrators manage every subscriber
(``/subscribers``, ``/dead-letters``); a partner manages its own subscriptions with its access token
(``/subscriptions``, operation ``events``).

See docs/events.md for what a subscriber receives and how it verifies a delivery's signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from popreg.kit.http import SessionDep, SettingsDep
from popreg.kit.settings import Profile, Settings
from popreg.sharing.api import NationalAdministrator
from popreg.sharing.gate import PartnerContext
from popreg.sharing.partner_http import partner_gate, partner_token
from popreg.sync import partner_subscribers, subscribers
from popreg.sync.events_rules import EVENTS_OPERATION
from popreg.sync.events_schemas import (
    DeadLetterList,
    RedeliveryRead,
    SubscriberCreate,
    SubscriberCreated,
    SubscriberList,
    SubscriberRead,
    SubscriptionCreate,
    SuspendIn,
)

router = APIRouter(prefix="/api/v1/events", tags=["events"])
SubscriberId = Annotated[str, Path(max_length=40, description="The subscriber's slug, e.g. bhxh-webhook.")]
SubscriptionId = Annotated[str, Path(max_length=40, description="The subscription's id, e.g. sub-3f9a0c1d2e4b5a67.")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The dead letter's delivery id.")]


def events_partner(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(partner_token)]
) -> PartnerContext:
    """The partner of the access token, if its policy (and the token's scope) has the ``events``
    operation. Each call counts against its daily quota and rate like any gateway request."""
    gate = partner_gate(request)
    context = gate.authenticate(request.headers.get("authorization"))
    gate.authorise(context, operation=EVENTS_OPERATION, fields=(), purpose=None)
    return context


EventsPartner = Annotated[PartnerContext, Depends(events_partner)]


def _development(settings: Settings) -> bool:
    return settings.profile is Profile.DEVELOPMENT


@router.post("/subscribers", operation_id="create_event_subscriber", response_model=SubscriberCreated, status_code=201)
def create_event_subscriber(
    data: SubscriberCreate, session: SessionDep, settings: SettingsDep, actor: NationalAdministrator
) -> SubscriberRead:
    """Register a webhook that receives the register's change events (national administrators only).

    It receives the events of `event_types` recorded from now on, each with only the changed `fields`
    its policy allows, signed with the HMAC `secret` returned here **once**. With `partner_id`, it
    belongs to that partner (an agency) and follows the partner's policy and status as a partner's own
    subscription does. Refusals: `EVENT_SUBSCRIBER_ID_INVALID`, `EVENT_WEBHOOK_URL_INVALID`,
    `EVENT_TYPE_UNKNOWN`, `EVENT_FIELD_UNKNOWN`, `EVENT_SUBSCRIBER_EXISTS`, `NATIONAL_ADMIN_REQUIRED`; with
    a partner also `PARTNER_NOT_FOUND`, `EVENT_PARTNER_NOT_AGENCY`, `POLICY_OPERATION_DENIED`,
    `EVENT_FIELD_DENIED`, `EVENT_WEBHOOK_HTTPS_REQUIRED`, `EVENT_WEBHOOK_URL_NOT_PUBLIC`.
    """
    subscriber, secret = subscribers.create(
        session,
        actor=actor,
        data=data,
        secret_key=settings.secret_key.get_secret_value(),
        development=_development(settings),
    )
    return subscribers.views(session, [subscriber], secret=secret)[0]


@router.get("/subscribers", operation_id="list_event_subscribers", response_model=SubscriberList)
def list_event_subscribers(session: SessionDep, actor: NationalAdministrator) -> SubscriberList:
    """Every subscriber, partners' and deleted ones included, with its status and how many events wait
    for it (pending, dead letters)."""
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


# A partner's own subscriptions ------------------------------------------------------------------------


@router.post(
    "/subscriptions", operation_id="create_event_subscription", response_model=SubscriberCreated, status_code=201
)
def create_event_subscription(
    data: SubscriptionCreate, session: SessionDep, settings: SettingsDep, partner: EventsPartner
) -> SubscriberRead:
    """Subscribe your webhook to the register's change events (agencies whose policy has the operation
    `events`; access token with scope `events`).

    You receive the events of `event_types` recorded from now on, one signed `POST` each (see the
    integrator's guide). `changes` holds the changed fields of `fields` that your policy lets you read
    **when the event is sent**: if your policy is narrowed later, your events carry fewer fields, with
    nothing to do on your side. While your organisation is suspended, events wait for you and arrive,
    in order, once it is resumed. The HMAC `secret` that signs them is in this answer **only**: keep it.

    Refusals: `POLICY_OPERATION_DENIED`, `EVENT_PARTNER_NOT_AGENCY`, `EVENT_FIELD_DENIED` (a field your
    policy does not let you read; `details.allowed` lists those it does), `EVENT_FIELD_UNKNOWN`,
    `EVENT_TYPE_UNKNOWN`, `EVENT_WEBHOOK_URL_INVALID`, `EVENT_WEBHOOK_HTTPS_REQUIRED`,
    `EVENT_WEBHOOK_URL_NOT_PUBLIC`, and the gateway's `PARTNER_TOKEN_*`, `PARTNER_SUSPENDED`,
    `RATE_LIMITED`, `QUOTA_EXHAUSTED`.
    """
    subscriber, secret = partner_subscribers.create(
        session,
        partner_id=partner.partner_id,
        data=data,
        secret_key=settings.secret_key.get_secret_value(),
        development=_development(settings),
    )
    return subscribers.views(session, [subscriber], secret=secret)[0]


@router.get("/subscriptions", operation_id="list_event_subscriptions", response_model=SubscriberList)
def list_event_subscriptions(session: SessionDep, partner: EventsPartner) -> SubscriberList:
    """Your subscriptions (not the deleted ones), oldest first, with the fields your events carry now
    (`delivered_fields`), and how many events wait for you (`pending`, `dead_letters`)."""
    return SubscriberList(
        items=subscribers.views(session, partner_subscribers.get_all(session, partner_id=partner.partner_id))
    )


@router.get("/subscriptions/{subscription_id}", operation_id="get_event_subscription", response_model=SubscriberRead)
def get_event_subscription(
    subscription_id: SubscriptionId, session: SessionDep, partner: EventsPartner
) -> SubscriberRead:
    """One of your subscriptions (`EVENT_SUBSCRIBER_NOT_FOUND` for any other id)."""
    subscriber = partner_subscribers.get(session, partner_id=partner.partner_id, subscription_id=subscription_id)
    return subscribers.views(session, [subscriber])[0]


@router.delete("/subscriptions/{subscription_id}", operation_id="delete_event_subscription", status_code=204)
def delete_event_subscription(subscription_id: SubscriptionId, session: SessionDep, partner: EventsPartner) -> Response:
    """Delete one of your subscriptions: no more events are sent to it, including those still waiting.
    `EVENT_SUBSCRIBER_NOT_FOUND` for any other id (or one already deleted)."""
    partner_subscribers.delete(session, partner_id=partner.partner_id, subscription_id=subscription_id)
    return Response(status_code=204)


@router.post(
    "/subscriptions/{subscription_id}/suspend",
    operation_id="suspend_event_subscription",
    response_model=SubscriberRead,
)
def suspend_event_subscription(
    subscription_id: SubscriptionId, data: SuspendIn, session: SessionDep, partner: EventsPartner
) -> SubscriberRead:
    """Pause one of your subscriptions (during maintenance of your webhook), giving the reason. Events
    keep accumulating and arrive, in order, once you resume it. Refusals: `EVENT_SUBSCRIBER_NOT_FOUND`,
    `EVENT_SUBSCRIBER_ALREADY_SUSPENDED`."""
    subscriber = partner_subscribers.suspend(
        session, partner_id=partner.partner_id, subscription_id=subscription_id, reason=data.reason
    )
    return subscribers.views(session, [subscriber])[0]


@router.post(
    "/subscriptions/{subscription_id}/resume", operation_id="resume_event_subscription", response_model=SubscriberRead
)
def resume_event_subscription(
    subscription_id: SubscriptionId, session: SessionDep, partner: EventsPartner
) -> SubscriberRead:
    """Deliver again to one of your suspended subscriptions, also one suspended because your webhook
    answered `410 Gone`; the oldest waiting event comes first. Refusals: `EVENT_SUBSCRIBER_NOT_FOUND`,
    `EVENT_SUBSCRIBER_NOT_SUSPENDED`."""
    subscriber = partner_subscribers.resume(session, partner_id=partner.partner_id, subscription_id=subscription_id)
    return subscribers.views(session, [subscriber])[0]


@router.post(
    "/subscriptions/{subscription_id}/redeliver",
    operation_id="redeliver_event_subscription",
    response_model=RedeliveryRead,
)
def redeliver_event_subscription(
    subscription_id: SubscriptionId, session: SessionDep, partner: EventsPartner
) -> RedeliveryRead:
    """Send again every event that failed all its attempts (dead letters), once your webhook works
    again: a dead letter holds back that person's later events. `EVENT_SUBSCRIBER_NOT_FOUND`."""
    return RedeliveryRead(
        redelivered=partner_subscribers.redeliver(
            session, partner_id=partner.partner_id, subscription_id=subscription_id
        )
    )
