"""Fixtures of the outbound-events tests: a national administrator, a partner agency with its access
token, a real webhook receiver, a dispatcher whose clock the test moves forward (instead of sleeping),
and the real NATS server.

NATS runs are skipped with the reason when the server is not reachable, except where ``CI`` or
``POPREG_REQUIRE_NATS`` is set: there they fail (``scripts/services`` starts nats-server).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from builders import register
from integration.events.webhook_receiver import Receiver
from popreg.kit.clock import utc_now
from popreg.kit.database import Database
from popreg.kit.settings import Settings
from popreg.sharing.schemas import PartnerKind
from popreg.sync.dispatch import Dispatcher
from sharing_builders import access_token, add_partner, admin_headers, bearer, policy_payload

NATS_URL = os.environ.get("POPREG_TEST_NATS_URL", "nats://127.0.0.1:4222")
REQUIRE_NATS = bool(os.environ.get("CI") or os.environ.get("POPREG_REQUIRE_NATS"))
AGENCY_POLICY: dict[str, Any] = {
    "operations": ["read", "events"],
    "read_fields": ["full_name", "birth_date", "sex", "life_status", "life_status_date"],
    "purposes": ["social-insurance"],
}


class Clock:
    """The dispatcher's idea of now: real time plus whatever the test has skipped."""

    def __init__(self) -> None:
        self.skipped = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.skipped

    def advance(self, **delta: float) -> None:
        self.skipped += timedelta(**delta)


@pytest.fixture
def admin(client: TestClient, database: Database) -> dict[str, str]:
    return admin_headers(client, database)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def event_settings(settings: Settings) -> Settings:
    """Short timeouts and few attempts, so that a test walks through every retry quickly."""
    return settings.model_copy(
        update={
            "events_max_attempts": 4,
            "events_retry_base_seconds": 60.0,
            "events_retry_max_seconds": 900.0,
            "events_webhook_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def dispatcher(database: Database, event_settings: Settings, clock: Clock) -> Iterator[Dispatcher]:
    running = Dispatcher(database, event_settings, clock=clock)
    yield running
    running.close()


def subscribe(
    client: TestClient,
    headers: dict[str, str],
    url: str,
    *,
    subscriber_id: str = "bhxh-webhook",
    event_types: list[str] | None = None,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    body = {
        "id": subscriber_id,
        "name": "Bảo hiểm xã hội",
        "url": url,
        "event_types": event_types or ["*"],
        "fields": ["full_name", "birth_date", "sex", "life_status", "life_status_date", "residences"]
        if fields is None
        else fields,
    }
    response = client.post("/api/v1/events/subscribers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def add_agency(
    database: Database, partner_id: str = "bhxh-hanoi", *, kind: PartnerKind = PartnerKind.AGENCY, **policy: Any
) -> dict[str, str]:
    """A partner (an agency by default) whose policy lets it subscribe to events (``AGENCY_POLICY`` with
    ``policy`` over it); returns the headers of an access token of scope ``read events``."""
    add_partner(database, partner_id=partner_id, kind=kind, **{**AGENCY_POLICY, **policy})
    return {"Authorization": bearer(access_token(partner_id, scope=("read", "events")))}


def set_policy(client: TestClient, admin: dict[str, str], partner_id: str = "bhxh-hanoi", **policy: Any) -> None:
    """Replace the partner's policy through the administrators' API (this process's gate sees it at once)."""
    body = policy_payload(**{**AGENCY_POLICY, **policy})
    response = client.put(f"/api/v1/partners/{partner_id}/policy", json=body, headers=admin)
    assert response.status_code == 200, response.text


def subscribe_partner(
    client: TestClient,
    headers: dict[str, str],
    url: str = "https://events.bhxh-hanoi.example/popreg",
    *,
    event_types: list[str] | None = None,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """A partner's own subscription, registered through its API."""
    body = {
        "url": url,
        "event_types": event_types or ["*"],
        "fields": ["full_name", "life_status", "life_status_date"] if fields is None else fields,
    }
    response = client.post("/api/v1/events/subscriptions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def register_person(client: TestClient, headers: dict[str, str], **overrides: Any) -> str:
    pin: str = register(client, headers, **overrides)["pin"]
    return pin


def rename(client: TestClient, headers: dict[str, str], pin: str, full_name: str) -> None:
    response = client.patch(
        f"/api/v1/persons/{pin}",
        json={"full_name": full_name, "legal_basis": "Quyết định cải chính 12/2026"},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def declare_dead(client: TestClient, headers: dict[str, str], pin: str) -> None:
    """Record the person's death on 2 January 2026 (a ``person.died`` event)."""
    died = client.post(
        f"/api/v1/persons/{pin}/life-status",
        json={"status": "deceased", "date": "2026-01-02", "legal_basis": "Trích lục khai tử 5/2026"},
        headers=headers,
    )
    assert died.status_code == 200, died.text


def sequences_of(receiver: Receiver, pin: str) -> list[int]:
    """The sequence numbers of the person's events, in the order the receiver got them."""
    return [event["sequence"] for event in receiver.events_of(pin)]


def dispatch_over_time(dispatcher: Dispatcher, clock: Clock, *, rounds: int, **every: float) -> None:
    """Run the dispatcher ``rounds`` times, moving its clock on by ``every`` (``minutes=15``) after each,
    instead of sleeping between retries."""
    for _ in range(rounds):
        dispatcher.run_until_idle()
        clock.advance(**every)


def nats_problem() -> str | None:
    host, port = NATS_URL.removeprefix("nats://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            return None
    except OSError as error:
        return f"NATS is not reachable at {NATS_URL}: {error}"


@pytest.fixture
def nats_url() -> str:
    problem = nats_problem()
    if problem:
        if REQUIRE_NATS:
            pytest.fail(f"{problem} (NATS is required here)")
        pytest.skip(problem)
    return NATS_URL
