"""Delivering a partner's events, on SQLite and PostgreSQL, to a real HTTP receiver that checks every
signature: each event carries the fields the partner's policy allows when it is sent (a narrowed policy
narrows the events at once, without registering again), a suspended partner's events wait without
being tried and arrive in order once it may receive them again, a deleted subscription receives
nothing more, and a partner has its dead letters sent again.

The development profile is used so that the receiver, a plain-http server on this machine, may be a
partner's webhook."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from integration.events.conftest import (
    Clock,
    add_agency,
    declare_dead,
    dispatch_over_time,
    register_person,
    rename,
    sequences_of,
    set_policy,
    subscribe_partner,
)
from integration.events.webhook_receiver import Receiver
from popreg.kit.database import Database
from popreg.kit.settings import Profile, Settings
from popreg.sync.dispatch import Dispatcher
from popreg.sync.events_models import EventDelivery

SUBSCRIPTIONS = "/api/v1/events/subscriptions"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"profile": Profile.DEVELOPMENT})


def deliveries(database: Database) -> list[tuple[str, int]]:
    with database.unit_of_work() as session:
        rows = session.execute(select(EventDelivery.status, EventDelivery.attempts).order_by(EventDelivery.id))
        return [(row.status, row.attempts) for row in rows]


def test_a_partners_events_carry_only_what_its_policy_allows_when_they_are_sent(
    client: TestClient, database: Database, admin: dict[str, str], receiver: Receiver, dispatcher: Dispatcher
):
    partner = add_agency(database)
    created = subscribe_partner(
        client,
        partner,
        receiver.url,
        event_types=["person.updated", "person.died"],
        fields=["full_name", "life_status", "life_status_date"],
    )
    receiver.secret = created["secret"]
    pin = register_person(client, admin)
    rename(client, admin, pin, "Nguyễn Thị Minh Hạnh")
    dispatcher.run_until_idle()
    assert [event["changes"] for event in receiver.events_of(pin)] == [{"full_name": "Nguyễn Thị Minh Hạnh"}]

    # The administrator narrows the policy: the next events lose the name, and still arrive.
    set_policy(client, admin, read_fields=["life_status", "life_status_date"])
    rename(client, admin, pin, "Nguyễn Thị Hạnh")
    declare_dead(client, admin, pin)
    seen = client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=partner).json()
    assert seen["fields"] == ["full_name", "life_status", "life_status_date"]
    assert seen["delivered_fields"] == ["life_status", "life_status_date"]
    dispatcher.run_until_idle()
    later = receiver.events_of(pin)[1:]
    assert [(event["type"], event["changes"]) for event in later] == [
        ("person.updated", {}),
        ("person.died", {"life_status": "deceased", "life_status_date": "2026-01-02"}),
    ]

    # Widened again, the policy gives back what was asked for, without registering again.
    set_policy(client, admin)
    rename(client, admin, pin, "Nguyễn Thị Minh Hạnh")
    dispatcher.run_until_idle()
    assert receiver.events_of(pin)[-1]["changes"] == {"full_name": "Nguyễn Thị Minh Hạnh"}
    assert [status for status, _attempts in deliveries(database)] == ["delivered"] * 4


@pytest.mark.parametrize("stop", ["partner suspended", "events operation removed"])
def test_a_stopped_partners_events_wait_untried_and_arrive_in_order_once_it_may_receive_again(
    client: TestClient,
    database: Database,
    admin: dict[str, str],
    receiver: Receiver,
    dispatcher: Dispatcher,
    clock: Clock,
    stop: str,
):
    partner = add_agency(database)
    created = subscribe_partner(client, partner, receiver.url, fields=["full_name"])
    receiver.secret = created["secret"]
    if stop == "partner suspended":
        response = client.post("/api/v1/partners/bhxh-hanoi/suspend", json={"reason": "kiểm tra"}, headers=admin)
        assert response.status_code == 200, response.text
    else:
        set_policy(client, admin, operations=["read"])
    pins = [register_person(client, admin, full_name=name) for name in ("Lê Văn An", "Lê Thị Bình")]
    for pin in pins:
        rename(client, admin, pin, "Lê Văn Đổi Tên")

    # Far longer than every attempt would take (4 attempts, at most 15 minutes apart).
    dispatch_over_time(dispatcher, clock, rounds=10, hours=1)
    assert receiver.requests == 0
    assert deliveries(database) == [("pending", 0)] * 6  # neither tried, nor dead-lettered
    seen = client.get(f"/api/v1/events/subscribers/{created['id']}", headers=admin).json()
    assert seen["status"] == "active" and seen["pending"] == 6
    assert seen["waiting_reason"] and ("suspended" in seen["waiting_reason"] or "events" in seen["waiting_reason"])

    if stop == "partner suspended":
        assert client.post("/api/v1/partners/bhxh-hanoi/resume", headers=admin).status_code == 200
    else:
        set_policy(client, admin)
    dispatcher.run_until_idle()
    for pin in pins:
        assert sequences_of(receiver, pin) == [1, 2, 3]
    assert deliveries(database) == [("delivered", 1)] * 6
    assert client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=partner).json()["waiting_reason"] is None


def test_a_deleted_subscription_receives_nothing_more_not_even_what_was_waiting(
    client: TestClient, database: Database, admin: dict[str, str], receiver: Receiver, dispatcher: Dispatcher
):
    partner = add_agency(database)
    kept = subscribe_partner(client, partner, receiver.url, event_types=["person.registered"])
    receiver.secret = kept["secret"]
    deleted = subscribe_partner(client, partner, receiver.url + "/deleted", event_types=["person.updated"])
    pin = register_person(client, admin)
    rename(client, admin, pin, "Trần Văn Bình")
    dispatcher.fan_out()  # the rename waits for the second subscription...
    assert client.delete(f"{SUBSCRIPTIONS}/{deleted['id']}", headers=partner).status_code == 204
    rename(client, admin, pin, "Trần Văn Bảo")  # ...and this one is not even queued for it

    dispatcher.run_until_idle()
    assert [event["type"] for event in receiver.events_of(pin)] == ["person.registered"]
    assert receiver.requests == 1
    with database.unit_of_work() as session:
        waiting = session.execute(
            select(EventDelivery.status).where(EventDelivery.subscriber_id == deleted["id"])
        ).scalars()
        assert list(waiting) == ["pending"]


def test_a_partner_has_its_dead_letters_sent_again_in_order(
    client: TestClient,
    database: Database,
    admin: dict[str, str],
    receiver: Receiver,
    dispatcher: Dispatcher,
    clock: Clock,
):
    partner = add_agency(database)
    created = subscribe_partner(client, partner, receiver.url)
    receiver.secret = created["secret"]
    receiver.status = 503
    pin = register_person(client, admin)
    rename(client, admin, pin, "Phạm Thị Dung")
    dispatch_over_time(dispatcher, clock, rounds=6, minutes=15)
    listed: dict[str, Any] = client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=partner).json()
    assert (listed["dead_letters"], listed["pending"]) == (1, 2)

    receiver.status = 200
    redelivered = client.post(f"{SUBSCRIPTIONS}/{created['id']}/redeliver", headers=partner)
    assert redelivered.json() == {"redelivered": 1}
    dispatcher.run_until_idle()
    assert sequences_of(receiver, pin) == [1, 2, 3]
