"""Delivering events to webhooks, on SQLite and PostgreSQL, through a real HTTP receiver that checks
every signature: payloads limited to the subscriber's fields, a subscriber down for an hour that then
receives everything in order per person, dead letters and their redelivery, 410 Gone, and two
dispatchers sharing the work without delivering a person's events twice or out of order."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from integration.events.conftest import (
    Clock,
    declare_dead,
    dispatch_over_time,
    register_person,
    rename,
    sequences_of,
    subscribe,
)
from integration.events.webhook_receiver import Receiver
from popreg.app import create_app
from popreg.kit.database import Database
from popreg.kit.settings import Settings
from popreg.sync.dispatch import Dispatcher
from popreg.sync.events_models import EventDelivery, OutboxEvent
from sharing_builders import admin_headers


def statuses(database: Database) -> dict[str, int]:
    with database.unit_of_work() as session:
        counts: dict[str, int] = {}
        for status in session.scalars(select(EventDelivery.status)):
            counts[status] = counts.get(status, 0) + 1
        return counts


def outbox_sequences(database: Database, pin: str) -> list[int]:
    with database.unit_of_work() as session:
        return list(
            session.scalars(select(OutboxEvent.sequence).where(OutboxEvent.pin == pin).order_by(OutboxEvent.id))
        )


def test_deliveries_are_signed_and_a_receiver_with_another_secret_refuses_them(
    client: TestClient, database: Database, admin: dict[str, str], receiver: Receiver, dispatcher: Dispatcher
):
    created = subscribe(client, admin, receiver.url)
    assert created["secret"].startswith("whsec_")
    receiver.secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="  # not the subscriber's
    pin = register_person(client, admin)

    dispatcher.run_until_idle()
    assert receiver.received == [] and receiver.refused_signatures == 1
    assert statuses(database) == {"pending": 2}  # the first event failed, the second waits behind it

    receiver.secret = created["secret"]
    dispatcher.clock.advance(hours=1)  # type: ignore[attr-defined]
    dispatcher.run_until_idle()
    assert sequences_of(receiver, pin) == outbox_sequences(database, pin) == [1, 2]
    assert statuses(database) == {"delivered": 2}
    first = receiver.events_of(pin)[0]
    assert first["type"] == "person.registered" and first["pin"] == pin
    assert set(first) == {
        "id", "type", "history_type", "pin", "sequence", "occurred_at", "effective_date", "source_agency", "changes",
    }  # fmt: skip


def test_a_subscriber_receives_only_its_event_types_and_the_fields_its_policy_allows(
    client: TestClient, database: Database, admin: dict[str, str], receiver: Receiver, dispatcher: Dispatcher
):
    receiver.secret = subscribe(
        client, admin, receiver.url, event_types=["person.updated", "person.died"], fields=["life_status"]
    )["secret"]
    pin = register_person(client, admin)
    rename(client, admin, pin, "Nguyễn Thị Minh Hạnh")
    declare_dead(client, admin, pin)

    dispatcher.run_until_idle()
    events = receiver.events_of(pin)
    assert [event["type"] for event in events] == ["person.updated", "person.died"]
    assert events[0]["changes"] == {}  # the new name is not among its fields
    assert events[1]["changes"] == {"life_status": "deceased"}  # the date is not either
    assert [event["sequence"] for event in events] == sorted(event["sequence"] for event in events)


@pytest.mark.parametrize("outage", ["503", "connection refused"])
def test_a_subscriber_down_for_an_hour_then_receives_every_event_in_order_per_person(
    client: TestClient,
    database: Database,
    admin: dict[str, str],
    receiver: Receiver,
    event_settings: Settings,
    clock: Clock,
    outage: str,
):
    settings = event_settings.model_copy(update={"events_max_attempts": 15})
    dispatcher = Dispatcher(database, settings, clock=clock)
    port = int(receiver.url.split(":")[2].split("/")[0])
    url = receiver.url
    secret = subscribe(client, admin, url)["secret"]
    if outage == "503":
        receiver.status = 503
    else:
        receiver.stop()
    pins = [register_person(client, admin, full_name=name) for name in ("Lê Văn An", "Lê Thị Bình", "Lê Văn Cường")]
    for round_number in range(3):
        for pin in pins:
            rename(client, admin, pin, f"Lê Văn Đổi Tên {'ABC'[round_number]}")

    dispatch_over_time(dispatcher, clock, rounds=12, minutes=5)  # an hour of attempts, five minutes apart
    assert statuses(database).get("delivered", 0) == 0
    assert statuses(database).get("dead", 0) == 0

    if outage == "503":
        receiver.status = 200
        receiver.secret = secret
        up = receiver
    else:
        up = Receiver(secret=secret).start(port)
    try:
        clock.advance(seconds=settings.events_retry_max_seconds)
        dispatcher.run_until_idle()
        for pin in pins:
            assert sequences_of(up, pin) == outbox_sequences(database, pin)
            assert len(outbox_sequences(database, pin)) == 5  # registered, residence, three renames
        assert statuses(database) == {"delivered": 15}
    finally:
        dispatcher.close()
        if up is not receiver:
            up.stop()


def test_the_last_failed_attempt_dead_letters_with_an_alert_and_a_redelivery_sends_it_in_order(
    client: TestClient,
    database: Database,
    admin: dict[str, str],
    receiver: Receiver,
    dispatcher: Dispatcher,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
):
    receiver.secret = subscribe(client, admin, receiver.url)["secret"]
    receiver.status = 503
    pin = register_person(client, admin)
    rename(client, admin, pin, "Nguyễn Thị Minh Hạnh")

    with caplog.at_level(logging.ERROR, logger="popreg.events"):
        dispatch_over_time(dispatcher, clock, rounds=6, minutes=15)
    assert receiver.requests == 4  # max attempts of the first event; the later ones wait behind it
    assert any("ALERT event dead-lettered" in record.getMessage() for record in caplog.records)
    letters = client.get("/api/v1/events/dead-letters", headers=admin).json()["items"]
    assert [(letter["pin"], letter["sequence"], letter["attempts"]) for letter in letters] == [(pin, 1, 4)]
    assert letters[0]["last_error"] == "HTTP 503"
    listed = client.get("/api/v1/events/subscribers/bhxh-webhook", headers=admin).json()
    assert (listed["dead_letters"], listed["pending"]) == (1, 2)

    receiver.status = 200
    redelivered = client.post(f"/api/v1/events/dead-letters/{letters[0]['delivery_id']}/redeliver", headers=admin)
    assert redelivered.json() == {"redelivered": 1}
    again = client.post(f"/api/v1/events/dead-letters/{letters[0]['delivery_id']}/redeliver", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "EVENT_DELIVERY_NOT_DEAD"
    dispatcher.run_until_idle()
    assert sequences_of(receiver, pin) == [1, 2, 3]
    assert statuses(database) == {"delivered": 3}
    assert client.get("/api/v1/events/dead-letters", headers=admin).json()["items"] == []


def test_a_webhook_answering_410_gone_suspends_its_subscriber_until_resumed(
    client: TestClient, database: Database, admin: dict[str, str], receiver: Receiver, dispatcher: Dispatcher
):
    receiver.secret = subscribe(client, admin, receiver.url)["secret"]
    receiver.status = 410
    pin = register_person(client, admin)
    dispatcher.run_until_idle()
    subscriber = client.get("/api/v1/events/subscribers/bhxh-webhook", headers=admin).json()
    assert subscriber["status"] == "suspended" and "410" in subscriber["suspension_reason"]
    assert receiver.requests == 1
    dispatcher.run_until_idle()
    assert receiver.requests == 1  # nothing is sent to a suspended subscriber

    receiver.status = 200
    assert client.post("/api/v1/events/subscribers/bhxh-webhook/resume", headers=admin).status_code == 200
    dispatcher.run_until_idle()
    assert sequences_of(receiver, pin) == [1, 2]


def test_two_dispatchers_share_the_work_without_duplicates_or_reordering(
    client: TestClient,
    database: Database,
    admin: dict[str, str],
    receiver: Receiver,
    event_settings: Settings,
    clock: Clock,
):
    receiver.secret = subscribe(client, admin, receiver.url)["secret"]
    pins = [register_person(client, admin, full_name=f"Võ Văn {name}") for name in ("An", "Bình", "Cường", "Dũng")]
    for pin in pins:
        for suffix in ("Em", "Giang", "Hải"):
            rename(client, admin, pin, f"Võ Văn {suffix}")
    settings = event_settings.model_copy(update={"events_batch_size": 2})
    dispatchers = [Dispatcher(database, settings, clock=clock) for _ in range(2)]
    failures: list[BaseException] = []

    def work(dispatcher: Dispatcher) -> None:
        try:
            dispatcher.run_until_idle()
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(dispatcher,)) for dispatcher in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for dispatcher in dispatchers:
        dispatcher.run_until_idle()
        dispatcher.close()

    assert failures == []
    ids: list[Any] = [event["id"] for event in receiver.received]
    assert len(ids) == len(set(ids)) == 4 * 5
    for pin in pins:
        assert sequences_of(receiver, pin) == [1, 2, 3, 4, 5]


def test_a_serving_process_dispatches_events_when_configured(
    database: Database, settings: Settings, receiver: Receiver
):
    serving = settings.model_copy(update={"events_dispatch_in_serve": True, "events_poll_seconds": 0.1})
    with TestClient(create_app(serving, database), raise_server_exceptions=False) as client:
        admin = admin_headers(client, database)
        receiver.secret = subscribe(client, admin, receiver.url)["secret"]
        pin = register_person(client, admin)
        deadline = time.monotonic() + 60
        while len(receiver.events_of(pin)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert sequences_of(receiver, pin) == [1, 2]
