"""Partners' own event subscriptions through the API, on SQLite and PostgreSQL (test profile, so a
partner's webhook must be https on the internet): an agency registers within its policy, sees the
secret once, sees only its own subscriptions, suspends, resumes and deletes them; administrators keep
their own API, see everyone's, and may register a subscriber for a partner under the same rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from integration.events.conftest import add_agency, subscribe, subscribe_partner
from popreg.audit.models import AccessLogEntry
from popreg.kit.database import Database
from popreg.kit.settings import get_settings
from popreg.sharing.schemas import PartnerKind
from popreg.sync.events_cli import app as events_cli
from popreg.sync.events_models import EventSubscriber
from sharing_builders import TEST_KEY, access_token, bearer

SUBSCRIPTIONS = "/api/v1/events/subscriptions"


def count_subscribers(database: Database) -> int:
    with database.unit_of_work() as session:
        return int(session.execute(select(func.count()).select_from(EventSubscriber)).scalar_one())


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_an_agency_registers_its_own_subscription_and_sees_the_secret_only_once(client: TestClient, database: Database):
    partner = add_agency(database)
    created = subscribe_partner(client, partner, event_types=["person.died"], fields=["life_status"])
    assert created["id"].startswith("sub-") and created["partner_id"] == "bhxh-hanoi"
    assert created["secret"].startswith("whsec_") and created["status"] == "active"
    assert created["name"] == "Bhxh-Hanoi"  # the partner's name when the subscription has none
    assert created["fields"] == created["delivered_fields"] == ["life_status"]
    assert created["waiting_reason"] is None

    listed = client.get(SUBSCRIPTIONS, headers=partner).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]] and "secret" not in listed[0]
    one = client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=partner).json()
    assert one["event_types"] == ["person.died"] and "secret" not in one
    with database.unit_of_work() as session:
        entries = session.execute(
            select(AccessLogEntry.principal_kind, AccessLogEntry.principal_id).where(
                AccessLogEntry.action == "events.subscriber.create"
            )
        ).all()
    assert [tuple(entry) for entry in entries] == [("partner", "bhxh-hanoi")]


@pytest.mark.parametrize(
    ("fields", "denied"),
    [
        (["full_name", "religion_code"], ["religion_code"]),
        (["residences"], ["residences"]),  # a whole residence record is more than any readable attribute
        (["cards", "sex", "ethnicity_code"], ["cards", "ethnicity_code"]),
    ],
)
def test_a_field_the_policy_does_not_let_the_partner_read_is_refused_and_nothing_is_stored(
    client: TestClient, database: Database, fields: list[str], denied: list[str]
):
    partner = add_agency(database)
    body = {"url": "https://events.bhxh-hanoi.example/popreg", "event_types": ["*"], "fields": fields}
    refused = client.post(SUBSCRIPTIONS, json=body, headers=partner)
    assert error_of(refused) == (403, "EVENT_FIELD_DENIED")
    assert refused.json()["error"]["details"]["fields"] == denied
    assert "full_name" in refused.json()["error"]["details"]["allowed"]
    assert count_subscribers(database) == 0


def test_a_names_parts_and_a_birth_dates_precision_come_with_their_readable_attribute(
    client: TestClient, database: Database
):
    partner = add_agency(database, read_fields=["full_name", "birth_date"])
    fields = ["family_name", "given_name", "middle_name", "birth_date_precision"]
    assert subscribe_partner(client, partner, fields=fields)["fields"] == sorted(fields)
    refused = client.post(
        SUBSCRIPTIONS,
        json={"url": "https://e.example/x", "event_types": ["*"], "fields": ["sex"]},
        headers=partner,
    )
    assert error_of(refused) == (403, "EVENT_FIELD_DENIED")


def test_without_the_events_operation_in_the_policy_or_the_token_a_partner_cannot_subscribe(
    client: TestClient, database: Database
):
    no_operation = add_agency(database, "thue-hanoi", operations=["read"])
    assert error_of(client.post(SUBSCRIPTIONS, json={}, headers=no_operation)) == (403, "POLICY_OPERATION_DENIED")
    assert error_of(client.get(SUBSCRIPTIONS, headers=no_operation)) == (403, "POLICY_OPERATION_DENIED")

    add_agency(database)
    read_only_token = {"Authorization": bearer(access_token("bhxh-hanoi", scope=("read",)))}
    assert error_of(client.get(SUBSCRIPTIONS, headers=read_only_token)) == (403, "POLICY_OPERATION_DENIED")
    assert count_subscribers(database) == 0


def test_a_business_cannot_subscribe_because_its_reads_need_each_persons_consent(
    client: TestClient, database: Database
):
    business = add_agency(database, "vietbank", kind=PartnerKind.BUSINESS)
    body = {"url": "https://events.vietbank.example/popreg", "event_types": ["*"], "fields": ["full_name"]}
    assert error_of(client.post(SUBSCRIPTIONS, json=body, headers=business)) == (403, "EVENT_PARTNER_NOT_AGENCY")
    assert count_subscribers(database) == 0


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://events.bhxh-hanoi.example/popreg", "EVENT_WEBHOOK_HTTPS_REQUIRED"),
        ("https://127.0.0.1:8443/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://2130706433/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),  # 127.0.0.1 written as a number
        ("https://10.20.30.40/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://169.254.169.254/latest", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://[::1]/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://localhost/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("ftp://events.example/x", "EVENT_WEBHOOK_URL_INVALID"),
        ("https://events example/x", "EVENT_WEBHOOK_URL_INVALID"),
        ("https://events.example:99999/x", "EVENT_WEBHOOK_URL_INVALID"),
    ],
)
def test_outside_development_a_partners_webhook_must_be_https_on_the_internet(
    client: TestClient, database: Database, url: str, code: str
):
    partner = add_agency(database)
    body = {"url": url, "event_types": ["*"], "fields": ["full_name"]}
    assert error_of(client.post(SUBSCRIPTIONS, json=body, headers=partner)) == (422, code)
    assert count_subscribers(database) == 0


def test_a_partner_never_sees_or_touches_another_partners_subscriptions(
    client: TestClient, database: Database, admin: dict[str, str]
):
    first = add_agency(database, "bhxh-hanoi")
    second = add_agency(database, "bhyt-hanoi")
    theirs = subscribe_partner(client, first)["id"]
    subscribe(client, admin, "https://events.admin.example/x", subscriber_id="admin-webhook")

    assert client.get(SUBSCRIPTIONS, headers=second).json() == {"items": []}
    unknown = client.get(f"{SUBSCRIPTIONS}/sub-0000000000000000", headers=second)
    assert error_of(unknown) == (404, "EVENT_SUBSCRIBER_NOT_FOUND")
    for other in (theirs, "admin-webhook"):
        attempts = [
            client.get(f"{SUBSCRIPTIONS}/{other}", headers=second),
            client.delete(f"{SUBSCRIPTIONS}/{other}", headers=second),
            client.post(f"{SUBSCRIPTIONS}/{other}/suspend", json={"reason": "không phải của tôi"}, headers=second),
            client.post(f"{SUBSCRIPTIONS}/{other}/resume", headers=second),
            client.post(f"{SUBSCRIPTIONS}/{other}/redeliver", headers=second),
        ]
        for attempt in attempts:  # answered exactly like an id nobody uses
            assert error_of(attempt) == (404, "EVENT_SUBSCRIBER_NOT_FOUND")
            assert attempt.json() == json.loads(unknown.text.replace("sub-0000000000000000", other))
    mine = client.get(f"{SUBSCRIPTIONS}/{theirs}", headers=first).json()
    assert mine["status"] == "active"
    assert error_of(client.get(f"{SUBSCRIPTIONS}/admin-webhook", headers=first)) == (404, "EVENT_SUBSCRIBER_NOT_FOUND")


def test_a_partner_suspends_resumes_and_deletes_its_own_subscription(
    client: TestClient, database: Database, admin: dict[str, str]
):
    partner = add_agency(database)
    subscription = subscribe_partner(client, partner)["id"]
    url = f"{SUBSCRIPTIONS}/{subscription}"

    suspended = client.post(f"{url}/suspend", json={"reason": "bảo trì hệ thống nhận"}, headers=partner)
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    twice = client.post(f"{url}/suspend", json={"reason": "x"}, headers=partner)
    assert error_of(twice) == (409, "EVENT_SUBSCRIBER_ALREADY_SUSPENDED")
    resumed = client.post(f"{url}/resume", headers=partner)
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    assert error_of(client.post(f"{url}/resume", headers=partner)) == (409, "EVENT_SUBSCRIBER_NOT_SUSPENDED")

    deleted = client.delete(url, headers=partner)
    assert deleted.status_code == 204 and deleted.content == b""
    assert error_of(client.get(url, headers=partner)) == (404, "EVENT_SUBSCRIBER_NOT_FOUND")
    assert error_of(client.delete(url, headers=partner)) == (404, "EVENT_SUBSCRIBER_NOT_FOUND")
    assert client.get(SUBSCRIPTIONS, headers=partner).json() == {"items": []}

    # The administrator still sees it, deleted, and cannot bring it back by a suspension.
    seen = client.get(f"/api/v1/events/subscribers/{subscription}", headers=admin).json()
    assert (seen["status"], seen["partner_id"]) == ("deleted", "bhxh-hanoi")
    refused = client.post(f"/api/v1/events/subscribers/{subscription}/suspend", json={"reason": "x"}, headers=admin)
    assert error_of(refused) == (409, "EVENT_SUBSCRIBER_DELETED")
    with database.unit_of_work() as session:
        assert session.get_one(EventSubscriber, subscription).secret_sealed is None  # no longer needed: not kept
        actions = list(
            session.scalars(
                select(AccessLogEntry.action)
                .where(AccessLogEntry.principal_kind == "partner", AccessLogEntry.action.like("events.%"))
                .order_by(AccessLogEntry.seq)
            )
        )
    assert actions == [
        "events.subscriber.create",
        "events.subscriber.suspend",
        "events.subscriber.resume",
        "events.subscriber.delete",
    ]


def test_a_subscription_an_administrator_suspended_is_resumed_only_by_an_administrator(
    client: TestClient, database: Database, admin: dict[str, str]
):
    partner = add_agency(database)
    subscription = subscribe_partner(client, partner)["id"]
    admin_url = f"/api/v1/events/subscribers/{subscription}"

    held = client.post(f"{admin_url}/suspend", json={"reason": "webhook gửi sai dữ liệu"}, headers=admin)
    assert held.status_code == 200, held.text
    refused = client.post(f"{SUBSCRIPTIONS}/{subscription}/resume", headers=partner)

    assert error_of(refused) == (403, "EVENT_SUBSCRIBER_SUSPENDED_BY_ADMINISTRATOR")
    assert client.get(f"{SUBSCRIPTIONS}/{subscription}", headers=partner).json()["status"] == "suspended"
    assert client.post(f"{admin_url}/resume", headers=admin).status_code == 200
    # Once the administrator lifted it, the partner's own suspensions are its own to lift again.
    client.post(f"{SUBSCRIPTIONS}/{subscription}/suspend", json={"reason": "bảo trì"}, headers=partner)
    assert client.post(f"{SUBSCRIPTIONS}/{subscription}/resume", headers=partner).json()["status"] == "active"


def test_administrators_keep_their_partnerless_subscribers_and_see_every_subscriber(
    client: TestClient, database: Database, admin: dict[str, str]
):
    partner = add_agency(database)
    subscribe(client, admin, "http://events.internal.example/popreg", fields=["residences"])  # http: trusted admin
    theirs = subscribe_partner(client, partner)["id"]

    listed = {item["id"]: item for item in client.get("/api/v1/events/subscribers", headers=admin).json()["items"]}
    assert set(listed) == {"bhxh-webhook", theirs}
    assert listed["bhxh-webhook"]["partner_id"] is None
    assert listed["bhxh-webhook"]["delivered_fields"] == ["residences"]
    assert listed[theirs]["partner_id"] == "bhxh-hanoi"
    assert [item["id"] for item in client.get(SUBSCRIPTIONS, headers=partner).json()["items"]] == [theirs]


def test_an_administrator_registers_a_subscriber_for_a_partner_under_the_partners_policy(
    client: TestClient, database: Database, admin: dict[str, str]
):
    add_agency(database)
    body = {
        "id": "bhxh-hanoi-deaths",
        "name": "BHXH Hà Nội",
        "url": "https://events.bhxh-hanoi.example/deaths",
        "event_types": ["person.died"],
        "fields": ["life_status", "life_status_date"],
        "partner_id": "bhxh-hanoi",
    }
    for change, expected in [
        ({"fields": ["residences"]}, (403, "EVENT_FIELD_DENIED")),
        ({"partner_id": "nobody"}, (404, "PARTNER_NOT_FOUND")),
        ({"url": "http://events.bhxh-hanoi.example/deaths"}, (422, "EVENT_WEBHOOK_HTTPS_REQUIRED")),
    ]:
        refused = client.post("/api/v1/events/subscribers", json={**body, **change}, headers=admin)
        assert error_of(refused) == expected
    assert count_subscribers(database) == 0

    created = client.post("/api/v1/events/subscribers", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["partner_id"] == "bhxh-hanoi"


def test_the_subscriptions_api_refuses_a_missing_token_and_a_suspended_partner(
    client: TestClient, database: Database, admin: dict[str, str]
):
    partner = add_agency(database)
    assert error_of(client.get(SUBSCRIPTIONS)) == (401, "PARTNER_TOKEN_MISSING")
    suspended = client.post("/api/v1/partners/bhxh-hanoi/suspend", json={"reason": "hợp đồng hết hạn"}, headers=admin)
    assert suspended.status_code == 200
    body = {"url": "https://e.example/x", "event_types": ["*"], "fields": []}
    assert error_of(client.post(SUBSCRIPTIONS, json=body, headers=partner)) == (403, "PARTNER_SUSPENDED")
    assert count_subscribers(database) == 0


@pytest.fixture
def run(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    monkeypatch.setenv("POPREG_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("POPREG_PROFILE", "test")  # outside development: a partner's webhook must be https
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(events_cli, list(args))
    get_settings.cache_clear()


def test_the_operator_registers_a_partners_subscriber_from_the_command_line(run: Any, database: Database):
    add_agency(database)
    base = ["subscribe", "bhxh-hanoi-cli", "--types", "person.died", "--partner", "bhxh-hanoi"]
    denied = run(*base, "--url", "https://events.bhxh-hanoi.example/x", "--fields", "life_status,residences")
    plain_http = run(*base, "--url", "http://events.bhxh-hanoi.example/x", "--fields", "life_status")
    created = run(*base, "--url", "https://events.bhxh-hanoi.example/x", "--fields", "life_status")

    assert denied.exit_code == 1 and "EVENT_FIELD_DENIED" in denied.output
    assert plain_http.exit_code == 1 and "EVENT_WEBHOOK_HTTPS_REQUIRED" in plain_http.output
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["partner_id"] == "bhxh-hanoi"
    assert count_subscribers(database) == 1
