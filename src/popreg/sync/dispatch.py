"""The event dispatcher: fans outbox rows out to subscribers' deliveries and delivers them.

Guarantees:

- **At least once.** A delivery is marked delivered only after the subscriber answered 2xx (or
  JetStream acknowledged). A dispatcher that dies while sending leaves its lease to expire; another
  (or the restarted one) sends the event again, with the same event id for deduplication.
- **In order per person per subscriber.** A delivery is sent only when no earlier event of the same
  person is still waiting for that subscriber (pending or dead-lettered) or still waiting to be fanned
  out; so at most one event per person and subscriber is ever in flight.
- **Several dispatchers.** Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and the database's
  single writer on SQLite (``BEGIN IMMEDIATE``), then a lease (``leased_by``, ``lease_until``); an
  outcome is recorded only by the holder of the lease.

Failed attempts are retried with exponential back-off and jitter; after ``POPREG_EVENTS_MAX_ATTEMPTS``
the delivery is dead-lettered and an alert is logged. A webhook answering 410 Gone suspends its
subscriber.

A partner's subscriber follows the partner: each claim reads the partners' status and policies, a
delivery carries only the fields the policy lets the partner read at that moment, and the deliveries
of a suspended partner (or one whose policy lost the ``events`` operation) are not claimed: they wait,
with no attempt counted, until the partner may receive them again.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, exists, false, insert, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from popreg.kit.clock import utc_now
from popreg.kit.database import Database, UTCDateTime
from popreg.kit.settings import Settings
from popreg.sync import subscribers
from popreg.sync.events_models import EventDelivery, EventSubscriber, EventSubscription, OutboxEvent
from popreg.sync.events_rules import ALL_TYPES, PartnerAllowance, event_payload, retry_delay, sign
from popreg.sync.nats_publisher import NatsPublisher

logger = logging.getLogger("popreg.events")
FAN_OUT_BATCH = 1000
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed delivery, ready to send."""

    delivery_id: int
    subscriber_id: str
    kind: str
    url: str | None
    secret: str | None
    event_id: str
    event_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: int
    subscriber_id: str
    event_id: str
    delivered: bool
    error: str | None = None
    gone: bool = False


class WebhookSender:
    """Posts one event to a webhook, signed in the Standard Webhooks style."""

    def __init__(self, *, timeout: float) -> None:
        self.http = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "popreg-events/1"})

    def send(self, item: Outgoing) -> Outcome:
        if item.url is None or item.secret is None:
            return Outcome(item.delivery_id, item.subscriber_id, item.event_id, False, "no webhook URL or secret")
        timestamp = int(utc_now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": item.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(
                secret=item.secret, message_id=item.event_id, timestamp=timestamp, body=item.body
            ),
        }
        try:
            response = self.http.post(item.url, content=item.body, headers=headers)
        except httpx.HTTPError as error:
            return Outcome(item.delivery_id, item.subscriber_id, item.event_id, False, _describe(error))
        if 200 <= response.status_code < 300:
            return Outcome(item.delivery_id, item.subscriber_id, item.event_id, True)
        return Outcome(
            item.delivery_id,
            item.subscriber_id,
            item.event_id,
            False,
            f"HTTP {response.status_code}",
            gone=response.status_code == 410,
        )

    def close(self) -> None:
        self.http.close()


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _fields(subscriber: EventSubscriber, allowances: dict[str, PartnerAllowance]) -> frozenset[str]:
    """The fields a delivery carries: the subscriber's, narrowed to what its partner's policy allows now."""
    requested = frozenset(subscriber.fields)
    if subscriber.partner_id is None:
        return requested
    allowance = allowances.get(subscriber.partner_id)
    return requested & allowance.fields if allowance is not None else frozenset()


class Dispatcher:
    """Delivers the outbox. ``clock`` decides when a retry is due (tests move it forward instead of
    sleeping); signatures always carry the real time."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        nats: NatsPublisher | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.worker = uuid.uuid4().hex[:16]
        self.webhooks = WebhookSender(timeout=settings.events_webhook_timeout_seconds)
        if nats is None and settings.nats_url:
            nats = NatsPublisher(
                settings.nats_url,
                stream=settings.nats_stream,
                subject_prefix=settings.nats_subject_prefix,
                timeout=settings.events_webhook_timeout_seconds,
            )
        self.nats = nats
        if self.nats is not None:
            with database.unit_of_work() as session:
                subscribers.ensure_nats_subscriber(session)
        self.timeout = timedelta(seconds=settings.events_webhook_timeout_seconds)
        self.lease = 2 * self.timeout + timedelta(seconds=5)

    # One round -----------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Fan out what is new, then send one batch; return how many deliveries were attempted."""
        while self.fan_out():
            pass
        claimed = self.claim()
        if not claimed:
            return 0
        # Sends are sequential: stop starting new ones once the last could outlive the lease.
        deadline = self.clock() + self.lease - self.timeout
        outcomes: list[Outcome] = []
        unsent: list[int] = []
        for item in claimed:
            if self.clock() < deadline:
                outcomes.append(self._send(item))
            else:
                unsent.append(item.delivery_id)
        self.record(outcomes, release=unsent)
        return len(outcomes)

    def run_until_idle(self, *, max_rounds: int = 10_000) -> int:
        """Rounds until nothing is due now; return how many deliveries were attempted."""
        attempted = 0
        for _ in range(max_rounds):
            count = self.run_once()
            if count == 0:
                break
            attempted += count
        return attempted

    def run_forever(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, waiting ``POPREG_EVENTS_POLL_SECONDS`` when idle. A failing
        database is logged and retried: the events wait in the outbox."""
        while not stop.is_set():
            try:
                busy = self.run_once() > 0
            except Exception:
                logger.exception("event dispatcher round failed; retrying")
                busy = False
            if not busy:
                stop.wait(self.settings.events_poll_seconds)

    def close(self) -> None:
        self.webhooks.close()
        if self.nats is not None:
            self.nats.close()

    # Steps ---------------------------------------------------------------------------------------------

    def fan_out(self) -> int:
        """Turn up to a batch of new outbox rows into one pending delivery per interested subscriber
        (a subscriber hears of events recorded after its registration, until it is deleted)."""
        with self.database.unit_of_work() as session:
            ids = list(
                session.scalars(
                    select(OutboxEvent.id)
                    .where(OutboxEvent.fanned_out == false())
                    .order_by(OutboxEvent.id)
                    .limit(FAN_OUT_BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return 0
            now = self.clock()
            matches = (
                select(EventSubscriber.id.label("subscriber_id"), OutboxEvent.id, OutboxEvent.person_id)
                .select_from(OutboxEvent)
                .join(
                    EventSubscription,
                    or_(
                        EventSubscription.event_type == OutboxEvent.event_type,
                        EventSubscription.event_type == ALL_TYPES,
                    ),
                )
                .join(EventSubscriber, EventSubscriber.id == EventSubscription.subscriber_id)
                .where(
                    OutboxEvent.id.in_(ids),
                    OutboxEvent.id > EventSubscriber.start_after,
                    EventSubscriber.status != subscribers.DELETED,
                )
                .distinct()
            )
            subquery = matches.subquery()
            session.execute(
                insert(EventDelivery).from_select(
                    ["subscriber_id", "outbox_id", "person_id", "status", "attempts", "next_attempt_at"],
                    select(
                        subquery.c.subscriber_id,
                        subquery.c.id,
                        subquery.c.person_id,
                        literal(subscribers.PENDING),
                        literal(0),
                        literal(now, UTCDateTime()),
                    ),
                )
            )
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(ids))
                .values(fanned_out=True)
                .execution_options(synchronize_session=False)
            )
            return len(ids)

    def claim(self) -> list[Outgoing]:
        """Lease a batch of deliveries that are due, at the head of their person's queue, and whose
        subscriber is an administrator's or belongs to a partner that may receive events now."""
        kinds = [subscribers.WEBHOOK] + ([subscribers.NATS] if self.nats is not None else [])
        earlier = aliased(EventDelivery)
        unfanned = aliased(OutboxEvent)
        delivery = EventDelivery
        with self.database.unit_of_work() as session:
            now = self.clock()
            allowances = subscribers.partner_allowances(session)
            receiving = sorted(partner for partner, allowance in allowances.items() if allowance.receiving)
            waiting_before = exists().where(
                earlier.subscriber_id == delivery.subscriber_id,
                earlier.person_id == delivery.person_id,
                earlier.outbox_id < delivery.outbox_id,
                earlier.status.in_((subscribers.PENDING, subscribers.DEAD)),
            )
            not_fanned_before = exists().where(
                unfanned.person_id == delivery.person_id,
                unfanned.id < delivery.outbox_id,
                unfanned.fanned_out == false(),
            )
            ids = list(
                session.scalars(
                    select(delivery.id)
                    .join(EventSubscriber, EventSubscriber.id == delivery.subscriber_id)
                    .where(
                        delivery.status == subscribers.PENDING,
                        delivery.next_attempt_at <= now,
                        or_(delivery.lease_until.is_(None), delivery.lease_until < now),
                        EventSubscriber.status == subscribers.ACTIVE,
                        EventSubscriber.kind.in_(kinds),
                        or_(EventSubscriber.partner_id.is_(None), EventSubscriber.partner_id.in_(receiving)),
                        ~waiting_before,
                        ~not_fanned_before,
                    )
                    .order_by(delivery.outbox_id)
                    .limit(self.settings.events_batch_size)
                    .with_for_update(of=delivery, skip_locked=True)
                )
            )
            if not ids:
                return []
            session.execute(
                update(delivery)
                .where(delivery.id.in_(ids))
                .values(leased_by=self.worker, lease_until=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(delivery, OutboxEvent, EventSubscriber)
                .join(OutboxEvent, OutboxEvent.id == delivery.outbox_id)
                .join(EventSubscriber, EventSubscriber.id == delivery.subscriber_id)
                .where(delivery.id.in_(ids))
                .order_by(delivery.outbox_id)
            )
            return [
                self._outgoing(item, event, subscriber, _fields(subscriber, allowances))
                for item, event, subscriber in rows
            ]

    def _outgoing(
        self, item: EventDelivery, event: OutboxEvent, subscriber: EventSubscriber, fields: frozenset[str]
    ) -> Outgoing:
        payload = event_payload(
            event_id=event.event_id,
            event_type=event.event_type,
            history_type=event.history_type,
            pin=event.pin,
            sequence=event.sequence,
            changes=event.changes,
            effective_date=event.effective_date,
            occurred_at=event.occurred_at,
            source_agency=event.source_agency,
            fields=fields,
        )
        secret = (
            subscribers.unseal(subscriber.secret_sealed, secret_key=self.settings.secret_key.get_secret_value())
            if subscriber.secret_sealed
            else None
        )
        return Outgoing(
            delivery_id=item.id,
            subscriber_id=subscriber.id,
            kind=subscriber.kind,
            url=subscriber.url,
            secret=secret,
            event_id=event.event_id,
            event_type=event.event_type,
            body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
        )

    def _send(self, item: Outgoing) -> Outcome:
        if item.kind == subscribers.NATS and self.nats is not None:
            try:
                self.nats.publish(item.event_type, item.body, item.event_id)
            except Exception as error:  # noqa: BLE001 - any failure of the server is retried
                return Outcome(item.delivery_id, item.subscriber_id, item.event_id, False, _describe(error))
            return Outcome(item.delivery_id, item.subscriber_id, item.event_id, True)
        return self.webhooks.send(item)

    def record(self, outcomes: list[Outcome], *, release: list[int] | None = None) -> None:
        """Store what happened to each delivery this dispatcher still holds the lease of, and give back
        the leases of those it did not send."""
        with self.database.unit_of_work() as session:
            now = self.clock()
            for outcome in outcomes:
                self._record_one(session, outcome, now)
            if release:
                session.execute(
                    update(EventDelivery)
                    .where(EventDelivery.id.in_(release), EventDelivery.leased_by == self.worker)
                    .values(leased_by=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )

    def _record_one(self, session: Session, outcome: Outcome, now: datetime) -> None:
        held = and_(EventDelivery.id == outcome.delivery_id, EventDelivery.leased_by == self.worker)
        delivery = session.scalars(select(EventDelivery).where(held).with_for_update()).one_or_none()
        if delivery is None or delivery.status != subscribers.PENDING:
            return
        delivery.attempts += 1
        delivery.leased_by, delivery.lease_until = None, None
        if outcome.delivered:
            delivery.status, delivery.delivered_at, delivery.last_error = subscribers.DELIVERED, now, None
            return
        delivery.last_error = outcome.error
        if outcome.gone:
            self._suspend_gone(session, outcome.subscriber_id, now)
            delivery.next_attempt_at = now
        elif delivery.attempts >= self.settings.events_max_attempts:
            delivery.status, delivery.dead_at = subscribers.DEAD, now
            logger.error(
                "ALERT event dead-lettered: subscriber=%s event=%s delivery=%s attempts=%s last_error=%s; "
                "redeliver with `popreg events redeliver`",
                outcome.subscriber_id,
                outcome.event_id,
                outcome.delivery_id,
                delivery.attempts,
                outcome.error,
            )
        else:
            delay = retry_delay(
                delivery.attempts,
                base_seconds=self.settings.events_retry_base_seconds,
                max_seconds=self.settings.events_retry_max_seconds,
                jitter=secrets.randbelow(1_000_000) / 1_000_000,
            )
            delivery.next_attempt_at = now + timedelta(seconds=delay)

    def _suspend_gone(self, session: Session, subscriber_id: str, now: datetime) -> None:
        session.execute(
            update(EventSubscriber)
            .where(EventSubscriber.id == subscriber_id, EventSubscriber.status == subscribers.ACTIVE)
            .values(
                status=subscribers.SUSPENDED,
                suspension_reason="The webhook answered 410 Gone.",
                suspended_by=subscribers.DISPATCHER,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        logger.error("ALERT event subscriber %s suspended: its webhook answered 410 Gone", subscriber_id)


class DispatcherRunner:
    """A dispatcher in a background thread of a serving process (``POPREG_EVENTS_DISPATCH_IN_SERVE``)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="popreg-events-dispatch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        dispatcher = Dispatcher(self.database, self.settings)
        try:
            dispatcher.run_forever(self._stop)
        finally:
            dispatcher.close()

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=2 * self.settings.events_webhook_timeout_seconds + 5)
