"""Builders of partners, keys, client assertions and access tokens for the sharing tests, and what a
partner's requests leave behind: its refusals, its jobs and their access-log entries."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import select

from builders import register, sign_in
from popreg.audit.models import AccessLogEntry, AccessLogItem
from popreg.kit.database import Database
from popreg.officials.rules import Role
from popreg.sharing import service
from popreg.sharing.credentials import (
    CLIENT_ASSERTION_TYPE,
    access_token_key,
    client_assertion,
    generate_key_pair,
    issue_access_token,
)
from popreg.sharing.schemas import PartnerCreate, PartnerKind, PolicyIn

TOKEN_URL = "http://testserver/api/v1/oauth/token"
TEST_KEY = "test-secret-key-of-at-least-32-characters"  # the secret_key of the `settings` fixture


def admin_headers(client: TestClient, database: Database, *, username: str = "admin") -> dict[str, str]:
    """The Authorization header of a signed-in national administrator."""
    return sign_in(client, database, username=username, role=Role.NATIONAL_ADMIN, jurisdiction_code=None)


@pytest.fixture
def officer(client: TestClient, database: Database) -> dict[str, str]:
    """A commune officer of Ba Đình (Hà Nội); returns their Authorization header."""
    return sign_in(client, database)


@pytest.fixture
def person(client: TestClient, officer: dict[str, str]) -> str:
    """A person of Ba Đình, registered by ``officer``; returns the PIN."""
    pin: str = register(client, officer)["pin"]
    return pin


def policy_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "operations": ["verify", "read"],
        "verify_fields": ["full_name", "birth_date", "sex"],
        "read_fields": ["full_name", "birth_date"],
        "purposes": ["account-opening"],
        "daily_quota": 1000,
        "rate_per_second": 1000.0,
        "burst": 1000,
    }
    payload.update(overrides)
    return payload


@dataclass(frozen=True)
class PartnerKeys:
    partner_id: str
    private_jwk: dict[str, str]
    public_jwk: dict[str, str]

    @property
    def kid(self) -> str:
        return self.private_jwk["kid"]


def add_partner(
    database: Database,
    *,
    partner_id: str = "vietbank",
    kind: PartnerKind = PartnerKind.BUSINESS,
    alg: str = "ES256",
    **policy: Any,
) -> PartnerKeys:
    """A registered partner with a policy (``policy_payload`` plus overrides) and one active key."""
    private, public = generate_key_pair(alg)
    with database.unit_of_work() as session:
        service.create(
            session, actor=service.CLI_OPERATOR, data=PartnerCreate(id=partner_id, name=partner_id.title(), kind=kind)
        )
        service.set_policy(
            session, actor=service.CLI_OPERATOR, partner_id=partner_id, data=PolicyIn(**policy_payload(**policy))
        )
        service.add_key(session, actor=service.CLI_OPERATOR, partner_id=partner_id, jwk=public)
    return PartnerKeys(partner_id=partner_id, private_jwk=private, public_jwk=public)


def add_key(database: Database, partner_id: str, *, alg: str = "ES256") -> PartnerKeys:
    """Another active key for an existing partner."""
    private, public = generate_key_pair(alg)
    with database.unit_of_work() as session:
        service.add_key(session, actor=service.CLI_OPERATOR, partner_id=partner_id, jwk=public)
    return PartnerKeys(partner_id=partner_id, private_jwk=private, public_jwk=public)


def signed_assertion(keys: PartnerKeys, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A client assertion whose claims and header the test chooses (defaults: a valid one)."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": keys.partner_id,
        "sub": keys.partner_id,
        "aud": TOKEN_URL,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    alg = keys.private_jwk["alg"]
    key = ECKey.import_key(keys.private_jwk) if keys.private_jwk["kty"] == "EC" else OKPKey.import_key(keys.private_jwk)
    return jwt.encode({"alg": alg, "kid": keys.kid, **(header or {})}, body, key, algorithms=[alg])


def token_form(assertion: str, **overrides: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    form.update(overrides)
    return {name: value for name, value in form.items() if value is not None}


def request_token(client: TestClient, keys: PartnerKeys, **form: str | None) -> Any:
    """POST /api/v1/oauth/token with a fresh, valid client assertion."""
    assertion = client_assertion(keys.private_jwk, partner_id=keys.partner_id, token_url=TOKEN_URL)
    return client.post("/api/v1/oauth/token", data=token_form(assertion, **form))


def access_token(
    partner_id: str = "vietbank",
    *,
    scope: tuple[str, ...] = ("verify", "read"),
    lifetime_seconds: int = 600,
    issued_seconds_ago: int = 0,
    secret_key: str = TEST_KEY,
) -> str:
    """An access token as the token endpoint issues it, signed with the test settings' secret."""
    token, _claims = issue_access_token(
        key=access_token_key(secret_key),
        partner_id=partner_id,
        scope=scope,
        policy_version=2,
        lifetime_seconds=lifetime_seconds,
        now=int(time.time()) - issued_seconds_ago,
    )
    return token


def bearer(token: str) -> str:
    return f"Bearer {token}"


def error_of(response: Any) -> dict[str, Any]:
    """The ``error`` object of a refusal's body (``code``, ``message``, ``details``)."""
    error: dict[str, Any] = response.json()["error"]
    return error


def finished_job(client: TestClient, status_url: str, headers: dict[str, str], timeout: float = 60.0) -> dict[str, Any]:
    """A partner's file job as its status URL shows it once it has completed or failed (or, after
    ``timeout`` seconds, as it stands then)."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(status_url, headers=headers)
        assert status.status_code == 200, status.text
        body: dict[str, Any] = status.json()
        if body["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def access_log_of(database: Database, transaction_id: str) -> tuple[list[AccessLogEntry], list[tuple[str | None, str]]]:
    """The access-log entries of a transaction (a request, or a job: its acceptance, then its chunks) in
    order, and their items as ``(person_pin, result)``."""
    with database.unit_of_work() as session:
        entries = list(
            session.scalars(
                select(AccessLogEntry)
                .where(AccessLogEntry.transaction_id == transaction_id)
                .order_by(AccessLogEntry.seq)
            )
        )
        items = session.execute(
            select(AccessLogItem.person_pin, AccessLogItem.result)
            .where(AccessLogItem.seq.in_([entry.seq for entry in entries]))
            .order_by(AccessLogItem.seq, AccessLogItem.position)
        ).all()
        session.expunge_all()
    return entries, [(pin, result) for pin, result in items]
