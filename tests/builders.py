"""Builders of test data with keyword defaults: say only what the test is about."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from popreg.kit.database import Database
from popreg.officials import service as officials
from popreg.officials.rules import Role

PASSWORD = "correct horse battery"
# Real units of the shipped catalogue (2025 generation).
BA_DINH = "00004"  # Phường Ba Đình, Hà Nội
HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội
HA_NOI = "01"
SAIGON_WARD = "26740"  # Phường Sài Gòn, Hồ Chí Minh
HO_CHI_MINH = "79"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_official(
    database: Database,
    *,
    username: str = "officer",
    role: Role = Role.COMMUNE_OFFICER,
    jurisdiction_code: str | None = BA_DINH,
) -> None:
    with database.unit_of_work() as session:
        officials.create(
            session,
            username=username,
            password=PASSWORD,
            display_name=username.title(),
            role=role,
            jurisdiction_code=jurisdiction_code,
        )


def sign_in(
    client: TestClient,
    database: Database,
    *,
    username: str = "officer",
    role: Role = Role.COMMUNE_OFFICER,
    jurisdiction_code: str | None = BA_DINH,
) -> dict[str, str]:
    """Create an official and return the Authorization header of a fresh session."""
    add_official(database, username=username, role=role, jurisdiction_code=jurisdiction_code)
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def csrf_of(html: str) -> str:
    """The CSRF token of a console page's forms."""
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def console_sign_in(
    client: TestClient,
    database: Database,
    *,
    username: str = "officer",
    role: Role = Role.COMMUNE_OFFICER,
    jurisdiction_code: str | None = BA_DINH,
    create: bool = True,
) -> str:
    """Sign an official (created unless ``create=False``) in through the console's login form; returns
    the session's CSRF token for the forms."""
    if create:
        add_official(database, username=username, role=role, jurisdiction_code=jurisdiction_code)
    login = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/console").text)


def person_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "full_name": "Nguyễn Thị Minh Khai",
        "birth_date": "1990-05-12",
        "sex": "F",
        "ethnicity_code": "01",
        "birth_registration_unit_code": BA_DINH,
        "permanent_residence": {"address_line": "Số 12, ngõ 45, phố Đội Cấn", "unit_code": BA_DINH},
        "legal_basis": "Trích lục khai sinh số 123/1990",
    }
    payload.update(overrides)
    return payload


def register(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/persons", json=person_payload(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def register_over_http(base_url: str, *, username: str = "officer", **overrides: Any) -> str:
    """A person registered through a served application's API by an official; returns the PIN."""
    with httpx.Client(base_url=base_url, timeout=20) as api:
        token = api.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = api.post("/api/v1/persons", json=person_payload(**overrides), headers=headers)
        assert created.status_code == 201, created.text
        pin: str = created.json()["pin"]
        return pin
