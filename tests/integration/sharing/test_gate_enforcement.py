"""The gate of the gateway, on SQLite and PostgreSQL: access tokens, suspension, the policy, the rate
limit and the daily quota shared by several serving processes (two gates on one database)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from popreg.kit.errors import DomainError
from popreg.kit.settings import Settings
from popreg.sharing import service
from popreg.sharing.gate import PartnerContext, PartnerGate
from popreg.sharing.models import PartnerUsage
from popreg.sharing.schemas import PartnerKind, PolicyIn
from sharing_builders import (
    access_token,
    add_partner,
    admin_headers,
    bearer,
    policy_payload,
    request_token,
)

VERIFY = {"operation": "verify", "fields": ("full_name", "birth_date"), "purpose": "account-opening"}


def refusal(call: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as raised:
        call(*args, **kwargs)
    return raised.value


@pytest.fixture
def gate(database: Any, settings: Settings) -> PartnerGate:
    return PartnerGate(database, settings)


def signed_in(gate: PartnerGate, partner_id: str = "vietbank", **token: Any) -> PartnerContext:
    return gate.authenticate(bearer(access_token(partner_id, **token)))


def set_policy(database: Any, partner_id: str = "vietbank", **changes: Any) -> None:
    with database.unit_of_work() as session:
        service.set_policy(
            session, actor=service.CLI_OPERATOR, partner_id=partner_id, data=PolicyIn(**policy_payload(**changes))
        )


def suspend(database: Any, partner_id: str = "vietbank") -> None:
    with database.unit_of_work() as session:
        service.suspend(session, actor=service.CLI_OPERATOR, partner_id=partner_id, reason="contract ended")


def test_a_valid_token_names_the_partner_its_kind_and_policy(gate, database):
    add_partner(database, kind=PartnerKind.AGENCY, purposes=["social-insurance"])

    context = signed_in(gate)

    assert (context.partner_id, context.kind, context.policy.status) == ("vietbank", "agency", "active")
    assert context.policy.purposes == frozenset({"social-insurance"}) and context.policy.version == 2
    assert signed_in(gate).token_id != context.token_id


def test_a_token_from_the_token_endpoint_opens_the_gate(client: TestClient, gate, database):
    keys = add_partner(database)

    token = request_token(client, keys).json()["access_token"]

    context = gate.authenticate(f"Bearer {token}")
    gate.authorise(context, **VERIFY)
    assert context.partner_id == "vietbank"


@pytest.mark.parametrize("header", [None, "", "Basic dmlldGJhbms6c2VjcmV0", "Bearer ", "Bearer"])
def test_a_request_without_a_bearer_token_is_refused(gate, database, header):
    error = refusal(gate.authenticate, header)

    assert (error.status_code, error.code) == (401, "PARTNER_TOKEN_MISSING")


def test_an_expired_token_is_refused(gate, database):
    add_partner(database)
    expired = bearer(access_token(lifetime_seconds=60, issued_seconds_ago=61))

    error = refusal(gate.authenticate, expired)

    assert (error.status_code, error.code) == (401, "PARTNER_TOKEN_EXPIRED")


def tampered(token: str) -> list[str]:
    header, payload, signature = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    other_header = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0"  # {"alg":"none","typ":"at+jwt"}
    return [
        f"{header}.{flipped}.{signature}",
        f"{header}.{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{other_header}.{payload}.",
        f"{header}.{payload}",
        "not-a-token",
        "Ünïcödé.☃.x",
    ]


def test_a_tampered_or_foreign_token_is_refused(gate, database):
    add_partner(database)
    token = access_token()
    foreign = access_token(secret_key="another-secret-key-of-at-least-32-chars")

    errors = [refusal(gate.authenticate, bearer(value)) for value in [*tampered(token), foreign]]

    assert {(error.status_code, error.code) for error in errors} == {(401, "PARTNER_TOKEN_INVALID")}


def test_a_token_naming_an_unknown_partner_is_refused(gate, database):
    error = refusal(gate.authenticate, bearer(access_token("ghostbank")))

    assert error.code == "PARTNER_TOKEN_INVALID"


def test_a_suspension_is_seen_at_once_after_invalidate(gate, database):
    add_partner(database)
    token = bearer(access_token())
    gate.authenticate(token)

    suspend(database)
    still_cached = gate.authenticate(token)
    gate.invalidate("vietbank")
    error = refusal(gate.authenticate, token)

    assert still_cached.partner_id == "vietbank"
    assert (error.status_code, error.code) == (403, "PARTNER_SUSPENDED")


def test_another_process_sees_a_suspension_at_its_next_refresh(database, settings):
    add_partner(database)
    this_process, other_process = PartnerGate(database, settings), PartnerGate(database, settings)
    token = bearer(access_token())
    this_process.refresh()
    other_process.refresh()
    other_process.authenticate(token)

    suspend(database)
    this_process.invalidate("vietbank")
    served_before_refresh = other_process.authenticate(token)
    other_process.refresh()

    assert refusal(this_process.authenticate, token).code == "PARTNER_SUSPENDED"
    assert served_before_refresh.partner_id == "vietbank"
    assert refusal(other_process.authenticate, token).code == "PARTNER_SUSPENDED"


def test_suspending_through_the_admin_api_closes_this_processs_gate_at_once(client: TestClient, database):
    gate: PartnerGate = client.app.state.partner_gate  # type: ignore[attr-defined]
    add_partner(database)
    token = bearer(access_token())
    gate.authenticate(token)
    headers = admin_headers(client, database)

    suspended = client.post("/api/v1/partners/vietbank/suspend", json={"reason": "fraud inquiry"}, headers=headers)
    refused = refusal(gate.authenticate, token)
    client.post("/api/v1/partners/vietbank/resume", headers=headers)

    assert suspended.status_code == 200
    assert refused.code == "PARTNER_SUSPENDED"
    assert gate.authenticate(token).partner_id == "vietbank"


def test_a_policy_change_through_the_admin_api_applies_at_once(client: TestClient, database):
    gate: PartnerGate = client.app.state.partner_gate  # type: ignore[attr-defined]
    add_partner(database)
    gate.authorise(signed_in(gate), **VERIFY)

    changed = client.put(
        "/api/v1/partners/vietbank/policy",
        json=policy_payload(purposes=["tax"]),
        headers=admin_headers(client, database),
    )

    assert changed.status_code == 200
    assert refusal(gate.authorise, signed_in(gate), **VERIFY).code == "POLICY_PURPOSE_DENIED"


@pytest.mark.parametrize(
    ("request_", "code", "details"),
    [
        ({"operation": "read", "fields": ("full_name",)}, "POLICY_OPERATION_DENIED", {"operation": "read"}),
        ({"operation": "delete", "fields": ()}, "POLICY_OPERATION_DENIED", {"operation": "delete"}),
        (
            {"fields": ("full_name", "permanent_address", "card_issued_on")},
            "POLICY_FIELD_DENIED",
            {"fields": ["card_issued_on", "permanent_address"]},
        ),
        ({"purpose": "marketing"}, "POLICY_PURPOSE_DENIED", {"purpose": "marketing"}),
        ({"purpose": ""}, "POLICY_PURPOSE_DENIED", {"purpose": ""}),
    ],
)
def test_requests_outside_the_policy_are_refused_and_not_counted(gate, database, request_, code, details):
    add_partner(database, operations=["verify"], verify_fields=["full_name", "birth_date"], daily_quota=1)
    context = signed_in(gate)

    error = refusal(gate.authorise, context, **{**VERIFY, **request_})
    gate.authorise(context, **VERIFY)  # the quota of one is still there

    assert (error.status_code, error.code, error.details) == (403, code, details)
    assert gate.usage("vietbank") == 1


def test_read_fields_are_checked_against_the_read_policy(gate, database):
    add_partner(database, read_fields=["full_name"], verify_fields=["full_name", "birth_date"])
    context = signed_in(gate)

    gate.authorise(context, operation="read", fields=["full_name"], purpose="account-opening")
    error = refusal(gate.authorise, context, operation="read", fields=["birth_date"], purpose="account-opening")

    assert (error.code, error.details) == ("POLICY_FIELD_DENIED", {"fields": ["birth_date"]})


def test_a_token_issued_for_verify_only_cannot_read(gate, database):
    add_partner(database)
    context = signed_in(gate, scope=("verify",))

    gate.authorise(context, **VERIFY)
    error = refusal(gate.authorise, context, operation="read", fields=["full_name"], purpose="account-opening")

    assert error.code == "POLICY_OPERATION_DENIED"


def test_the_rate_limit_refuses_beyond_the_burst_with_retry_after(gate, database):
    add_partner(database, rate_per_second=0.5, burst=3)
    context = signed_in(gate)

    for _ in range(3):
        gate.authorise(context, **VERIFY)
    error = refusal(gate.authorise, context, **VERIFY)

    assert (error.status_code, error.code) == (429, "RATE_LIMITED")
    assert error.details["retry_after_seconds"] == 2  # one request every 2 seconds
    assert gate.usage("vietbank") == 3


def test_each_process_enforces_its_share_of_the_rate(database, settings):
    add_partner(database, rate_per_second=1.0, burst=1)
    gate = PartnerGate(database, settings.model_copy(update={"gateway_workers": 4}))
    context = signed_in(gate)

    gate.authorise(context, **VERIFY)
    error = refusal(gate.authorise, context, **VERIFY)

    assert error.details["retry_after_seconds"] == 4  # 1/s shared by four processes


def test_the_daily_quota_is_shared_by_every_process_through_refresh(database, settings):
    add_partner(database, daily_quota=5)
    first, second = PartnerGate(database, settings), PartnerGate(database, settings)
    on_first, on_second = signed_in(first), signed_in(second)

    for _ in range(3):
        first.authorise(on_first, **VERIFY)
    for _ in range(2):
        second.authorise(on_second, **VERIFY)
    first.refresh()
    second.refresh()
    first.refresh()

    refused = [refusal(gate.authorise, context, **VERIFY) for gate, context in ((first, on_first), (second, on_second))]
    assert {(error.status_code, error.code) for error in refused} == {(429, "QUOTA_EXHAUSTED")}
    assert all(0 < error.details["retry_after_seconds"] <= 86_400 for error in refused)
    with database.unit_of_work() as session:
        assert session.scalars(select(PartnerUsage.count)).all() == [5]


def test_a_request_costing_more_than_the_quota_left_is_refused_whole(gate, database):
    add_partner(database, daily_quota=10)
    context = signed_in(gate)
    gate.authorise(context, **VERIFY, cost=7)

    error = refusal(gate.authorise, context, **VERIFY, cost=4)
    gate.authorise(context, **VERIFY, cost=3)

    assert (error.code, error.details["remaining"]) == ("QUOTA_EXHAUSTED", 3)
    assert gate.usage("vietbank") == 10


def test_concurrent_requests_and_refreshes_in_two_processes_lose_no_count(database, settings):
    add_partner(database, daily_quota=1_000_000)
    gates = [PartnerGate(database, settings), PartnerGate(database, settings)]
    contexts = [signed_in(gate) for gate in gates]
    errors: list[BaseException] = []

    def serve(index: int) -> None:
        try:
            for number in range(200):
                gates[index % 2].authorise(contexts[index % 2], **VERIFY)
                if number % 50 == 0:
                    gates[index % 2].refresh()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=serve, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for gate in (*gates, gates[0]):  # the first refreshes again to read what the second flushed last
        gate.refresh()

    assert errors == []
    with database.unit_of_work() as session:
        assert session.scalars(select(PartnerUsage.count)).all() == [800]
    assert [gate.usage("vietbank") for gate in gates] == [800, 800]
