"""Event subscribers' administration through the API and the CLI, on SQLite and PostgreSQL: only a
national administrator manages them, the secret is shown once and kept sealed, bad input is refused
with a stable code and changes nothing, every change is in the access log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders import sign_in
from integration.events.conftest import subscribe
from popreg.audit.models import AccessLogEntry
from popreg.kit.database import Database
from popreg.kit.settings import get_settings
from popreg.officials.rules import Role
from popreg.sync.events_cli import app as events_cli
from popreg.sync.events_models import EventSubscriber
from sharing_builders import TEST_KEY


def count_subscribers(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.execute(select(func.count()).select_from(EventSubscriber)).scalar_one())


def test_the_secret_is_shown_once_and_stored_sealed(client: TestClient, database: Database, admin: dict[str, str]):
    created = subscribe(client, admin, "https://events.bhxh.example/popreg", event_types=["person.died"])
    assert created["status"] == "active" and created["event_types"] == ["person.died"]
    listed = client.get("/api/v1/events/subscribers", headers=admin).json()["items"]
    assert [item["id"] for item in listed] == ["bhxh-webhook"] and "secret" not in listed[0]
    assert "secret" not in client.get("/api/v1/events/subscribers/bhxh-webhook", headers=admin).json()
    with database.unit_of_work() as session:
        sealed = session.scalars(select(EventSubscriber.secret_sealed)).one()
    assert sealed and created["secret"] not in sealed and created["secret"].removeprefix("whsec_") not in sealed
    with database.unit_of_work() as session:
        actions = list(session.scalars(select(AccessLogEntry.action).order_by(AccessLogEntry.seq)))
    assert "events.subscriber.create" in actions


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"id": "Bad Id!"}, 422, "EVENT_SUBSCRIBER_ID_INVALID"),
        ({"url": "ftp://events.example/x"}, 422, "EVENT_WEBHOOK_URL_INVALID"),
        ({"url": "not a url"}, 422, "EVENT_WEBHOOK_URL_INVALID"),
        ({"event_types": ["person.teleported"]}, 422, "EVENT_TYPE_UNKNOWN"),
        ({"fields": ["shoe_size"]}, 422, "EVENT_FIELD_UNKNOWN"),
        ({"fields": ["pin"]}, 422, "EVENT_FIELD_UNKNOWN"),
        ({"colour": "blue"}, 422, "INPUT_UNKNOWN_FIELD"),
        ({"event_types": []}, 422, "INPUT_INVALID"),
    ],
)
def test_bad_subscriber_input_is_refused_with_a_code_and_stores_nothing(
    client: TestClient, database: Database, admin: dict[str, str], change: dict[str, Any], status: int, code: str
):
    body = {"id": "bhxh-webhook", "name": "BHXH", "url": "https://events.example/x", "event_types": ["*"], "fields": []}
    response = client.post("/api/v1/events/subscribers", json={**body, **change}, headers=admin)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert count_subscribers(database) == 0


def test_only_a_national_administrator_manages_subscribers(client: TestClient, database: Database):
    officer = sign_in(client, database, username="officer", role=Role.PROVINCE_OFFICER, jurisdiction_code="01")
    body = {"id": "bhxh-webhook", "name": "BHXH", "url": "https://events.example/x", "event_types": ["*"], "fields": []}
    refused = client.post("/api/v1/events/subscribers", json=body, headers=officer)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "NATIONAL_ADMIN_REQUIRED")
    assert client.get("/api/v1/events/dead-letters").status_code == 401
    assert count_subscribers(database) == 0


def test_conflicts_and_unknown_subscribers_have_their_codes(client: TestClient, admin: dict[str, str]):
    subscribe(client, admin, "https://events.example/x")
    again = client.post(
        "/api/v1/events/subscribers",
        json={"id": "bhxh-webhook", "name": "x", "url": "https://e.example/", "event_types": ["*"], "fields": []},
        headers=admin,
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "EVENT_SUBSCRIBER_EXISTS")
    missing = client.post("/api/v1/events/subscribers/nobody/suspend", json={"reason": "x"}, headers=admin)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "EVENT_SUBSCRIBER_NOT_FOUND")
    not_suspended = client.post("/api/v1/events/subscribers/bhxh-webhook/resume", headers=admin)
    assert not_suspended.json()["error"]["code"] == "EVENT_SUBSCRIBER_NOT_SUSPENDED"
    suspended = client.post(
        "/api/v1/events/subscribers/bhxh-webhook/suspend", json={"reason": "bảo trì"}, headers=admin
    )
    assert suspended.json()["status"] == "suspended" and suspended.json()["suspension_reason"] == "bảo trì"
    twice = client.post("/api/v1/events/subscribers/bhxh-webhook/suspend", json={"reason": "x"}, headers=admin)
    assert twice.json()["error"]["code"] == "EVENT_SUBSCRIBER_ALREADY_SUSPENDED"
    unknown = client.post("/api/v1/events/dead-letters/999999/redeliver", headers=admin)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "EVENT_DELIVERY_NOT_FOUND")


@pytest.fixture
def run(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    monkeypatch.setenv("POPREG_SECRET_KEY", TEST_KEY)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(events_cli, list(args))
    get_settings.cache_clear()


def test_the_operator_manages_subscribers_from_the_command_line(run: Any, database: Database):
    created = run(
        "subscribe", "thue-webhook", "--url", "https://events.thue.example/popreg",
        "--types", "person.died,residence.changed", "--fields", "life_status,residences", "--name", "Tổng cục Thuế",
    )  # fmt: skip
    refused = run("subscribe", "thue-2", "--url", "https://x.example/", "--types", "person.exploded")
    suspended = run("suspend", "thue-webhook", "--reason", "bảo trì")
    resumed = run("resume", "thue-webhook")
    listed = run("list")
    letters = run("dead-letters")
    redelivered = run("redeliver", "--subscriber", "thue-webhook")

    assert [r.exit_code for r in (created, suspended, resumed, listed, letters, redelivered)] == [0] * 6
    assert json.loads(created.stdout)["secret"].startswith("whsec_")
    assert refused.exit_code == 1 and "EVENT_TYPE_UNKNOWN" in refused.output
    [subscriber] = json.loads(listed.stdout)
    assert subscriber["event_types"] == ["person.died", "residence.changed"]
    assert subscriber["fields"] == ["life_status", "residences"] and "secret" not in subscriber
    assert json.loads(letters.stdout) == []
    with database.unit_of_work() as session:
        actors = set(session.scalars(select(AccessLogEntry.principal_id).where(AccessLogEntry.action.like("events.%"))))
    assert actors == {"cli"}
