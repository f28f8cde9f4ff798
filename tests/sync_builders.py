"""Builders and fixtures of the sync tests: an agency allowed to sync, updates, and sending them (the
official of Ba Đình and the person of theirs are sharing_builders' ``officer`` and ``person``). Test modules
import the fixtures they use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from popreg.kit.database import Database
from popreg.sharing.schemas import PartnerKind
from popreg.sync.rules import WRITABLE_FIELDS
from sharing_builders import access_token, add_partner, bearer

BASIS = "Luật Bảo hiểm xã hội 2024, Điều 16"


def add_agency(
    database: Database, partner_id: str = "bhxh", *, write_fields: list[str] | None = None
) -> dict[str, str]:
    """An agency allowed to sync (and verify) the given fields; returns its request headers."""
    add_partner(
        database,
        partner_id=partner_id,
        kind=PartnerKind.AGENCY,
        operations=["verify", "sync"],
        verify_fields=["full_name", "birth_date", "sex"],
        read_fields=[],
        write_fields=list(WRITABLE_FIELDS) if write_fields is None else write_fields,
        purposes=["social-insurance"],
    )
    return {"Authorization": bearer(access_token(partner_id, scope=("verify", "sync")))}


def observed(minutes_ago: int = 1) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


OBSERVED = observed(minutes_ago=1)
"""When the updates of the tests were observed unless they say otherwise (fixed, so a resend is identical)."""


def update_body(
    pin: str | None,
    key: str = "key-1",
    *,
    person: dict[str, Any] | None = None,
    observed_at: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "legal_basis": BASIS,
        "person": person if person is not None else {"pin": pin},
        "fields": fields or {"social_insurance_number": "0123456789"},
        "observed_at": observed_at or OBSERVED,
    }


def send(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.post("/api/v1/sync/updates", json=body, headers=headers)


def send_batch(client: TestClient, headers: dict[str, str], updates: list[dict[str, Any]]) -> Any:
    return client.post("/api/v1/sync/updates/batch", json={"updates": updates}, headers=headers)


@pytest.fixture
def agency(database: Database) -> dict[str, str]:
    return add_agency(database)
