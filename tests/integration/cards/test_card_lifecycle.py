"""Identity cards through the API, on SQLite and PostgreSQL: the lifecycle and its rules, the death of
the holder, jurisdiction, history, the offline check, the renderings, the CLI's MRZ, refusals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from builders import BA_DINH, HOAN_KIEM, register, sign_in
from popreg.audit.models import AccessLogEntry
from popreg.cards.cli import app as card_cli
from popreg.cards.models import Card
from popreg.cards.rules import add_years
from popreg.kit.clock import today_in_vietnam, utc_now
from popreg.kit.database import Database
from popreg.kit.settings import get_settings
from popreg.officials.rules import Role

APPLICATION = "Tờ khai CC01 số 125 ngày 02/01/2026"
DEATH_EXTRACT = "Trích lục khai tử số 12/2026 ngày 03/01/2026"


def born(years: int, *, days: int = 0) -> str:
    """The date of birth of someone who is ``years`` old today and ``days`` days past that birthday."""
    return (add_years(today_in_vietnam(), -years) - timedelta(days=days)).isoformat()


def apply(client: TestClient, headers: dict[str, str], pin: str, kind: str = "first", **extra: Any) -> Any:
    return client.post(
        f"/api/v1/persons/{pin}/cards", json={"kind": kind, "legal_basis": APPLICATION, **extra}, headers=headers
    )


def step(client: TestClient, headers: dict[str, str], pin: str, card_id: int, action: str, **body: Any) -> Any:
    return client.post(f"/api/v1/persons/{pin}/cards/{card_id}/{action}", json=body, headers=headers)


def issued_card(client: TestClient, headers: dict[str, str], pin: str, kind: str = "first") -> dict[str, Any]:
    """Apply, produce and hand over a card; returns the issued card."""
    applied = apply(client, headers, pin, kind)
    assert applied.status_code == 201, applied.text
    card_id = applied.json()["id"]
    produced = step(client, headers, pin, card_id, "produce")
    assert produced.status_code == 200, produced.text
    issued = step(client, headers, pin, card_id, "issue")
    assert issued.status_code == 200, issued.text
    body: dict[str, Any] = issued.json()
    return body


def set_expiry(database: Database, card_id: int, expiry: date) -> None:
    """Make a card look older than the test: its expiry moved (the renewal window depends on it)."""
    with database.unit_of_work() as session:
        session.execute(update(Card).where(Card.id == card_id).values(expiry_date=expiry))


def add_card(database: Database, **values: Any) -> None:
    """Write a card row directly, past the service's rules, as a defect or a race might."""
    with database.unit_of_work() as session:
        session.add(Card(applied_at=utc_now(), version=1, **values))


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


@pytest.fixture
def officer(client: TestClient, database: Database) -> dict[str, str]:
    return sign_in(client, database)


# ---------------------------------------------------------------------------------------------
# Lifecycle and the renewal rule


@pytest.mark.parametrize(
    ("age", "days_past", "expires_at_age"),
    [
        (0, 10, 14),  # a baby's card, on request: valid until 14
        (10, 0, 14),
        (12, 1, 25),  # issued within two years before 14: valid until 25
        (22, 364, 25),  # 23 years less a day: more than two years before 25
        (23, 0, 40),  # exactly two years before 25 counts as within
        (30, 0, 40),
        (38, 100, 60),
        (57, 364, 60),
        (58, 0, None),  # issued at 58 or later: valid for life
        (75, 0, None),
    ],
)
def test_a_first_card_expires_on_the_next_renewal_age_more_than_two_years_away(
    client, officer, age, days_past, expires_at_age
):
    birth = born(age, days=days_past)
    person = register(client, officer, birth_date=birth)

    card = issued_card(client, officer, person["pin"])

    assert card["status"] == "issued" and card["state"] == "valid"
    assert card["pin"] == person["pin"]
    assert card["date_of_issue"] == card["issued_on"] == today_in_vietnam().isoformat()
    expected = add_years(date.fromisoformat(birth), expires_at_age).isoformat() if expires_at_age else None
    assert card["expiry_date"] == expected


def test_a_renewal_is_refused_until_the_card_is_due_then_the_new_card_replaces_the_old_one(client, officer, database):
    person = register(client, officer, birth_date=born(24, days=300))  # 25 in about two months
    pin = person["pin"]
    old = issued_card(client, officer, pin)
    assert old["expiry_date"] == add_years(date.fromisoformat(born(24, days=300)), 40).isoformat()

    refused = apply(client, officer, pin, "renewal")
    assert refused.status_code == 409
    assert error_code(refused) == "CARD_RENEWAL_NOT_DUE"

    set_expiry(database, old["id"], today_in_vietnam() + timedelta(days=30))
    renewal = apply(client, officer, pin, "renewal")
    assert renewal.status_code == 201, renewal.text
    assert renewal.json()["replaces_card_id"] == old["id"]
    # The old card stays valid until the new one is produced.
    assert client.get(f"/api/v1/persons/{pin}/cards/valid", headers=officer).json()["id"] == old["id"]

    produced = step(client, officer, pin, renewal.json()["id"], "produce")
    assert produced.status_code == 200, produced.text
    cards = {card["id"]: card for card in client.get(f"/api/v1/persons/{pin}/cards", headers=officer).json()["cards"]}
    assert cards[old["id"]]["status"] == "cancelled"
    assert cards[old["id"]]["cancel_reason"] == "replaced"
    assert cards[renewal.json()["id"]]["state"] == "not_issued"
    assert step(client, officer, pin, renewal.json()["id"], "issue").json()["state"] == "valid"


def test_an_expired_card_can_be_renewed(client, officer, database):
    pin = register(client, officer, birth_date=born(40, days=20))["pin"]
    card = issued_card(client, officer, pin)
    set_expiry(database, card["id"], today_in_vietnam() - timedelta(days=20))

    assert client.get(f"/api/v1/persons/{pin}/cards", headers=officer).json()["cards"][0]["state"] == "expired"
    assert error_code(client.get(f"/api/v1/persons/{pin}/cards/valid", headers=officer)) == "CARD_NO_VALID_CARD"
    assert apply(client, officer, pin, "renewal").status_code == 201


def test_a_card_valid_for_life_is_never_renewed_for_age(client, officer):
    pin = register(client, officer, birth_date=born(61))["pin"]
    issued_card(client, officer, pin)

    refused = apply(client, officer, pin, "renewal")

    assert refused.status_code == 409
    assert error_code(refused) == "CARD_RENEWAL_NOT_DUE"


def test_a_replacement_of_a_lost_card_cancels_it_at_once_and_a_first_card_is_refused_after(client, officer):
    pin = register(client, officer)["pin"]
    lost = issued_card(client, officer, pin)

    replacement = apply(client, officer, pin, "replacement_lost")

    assert replacement.status_code == 201, replacement.text
    cards = {card["id"]: card for card in client.get(f"/api/v1/persons/{pin}/cards", headers=officer).json()["cards"]}
    assert cards[lost["id"]]["status"] == "cancelled"
    assert cards[lost["id"]]["cancel_reason"] == "lost"
    assert cards[lost["id"]]["cancelled_on"] == today_in_vietnam().isoformat()
    withdrawn = step(
        client, officer, pin, replacement.json()["id"], "cancel", reason="withdrawn", legal_basis="Đơn rút"
    )
    assert withdrawn.json()["cancel_reason"] == "withdrawn"
    assert error_code(apply(client, officer, pin, "first")) == "CARD_FIRST_NOT_ALLOWED"
    assert apply(client, officer, pin, "replacement_lost").status_code == 201


def test_a_damaged_card_or_a_change_of_data_is_replaced_when_the_new_card_is_produced(client, officer):
    pin = register(client, officer)["pin"]
    for kind, reason in (("replacement_damaged", "damaged"), ("change_of_data", "data_changed")):
        current = client.get(f"/api/v1/persons/{pin}/cards/valid", headers=officer)
        old = current.json() if current.status_code == 200 else issued_card(client, officer, pin)
        new = issued_card(client, officer, pin, kind)

        assert new["replaces_card_id"] == old["id"]
        old_now = client.get(f"/api/v1/persons/{pin}/cards/{old['id']}", headers=officer).json()
        assert (old_now["status"], old_now["cancel_reason"]) == ("cancelled", reason)


def test_one_application_at_a_time_and_one_valid_card(client, officer):
    pin = register(client, officer)["pin"]
    assert apply(client, officer, pin).status_code == 201

    assert error_code(apply(client, officer, pin)) == "CARD_APPLICATION_OPEN"
    assert error_code(apply(client, officer, pin, "replacement_damaged")) == "CARD_APPLICATION_OPEN"

    other = register(client, officer, full_name="Lê Văn Tám", sex="M", birth_date="1985-02-03")["pin"]
    issued_card(client, officer, other)
    assert error_code(apply(client, officer, other, "first")) == "CARD_ALREADY_VALID"
    fresh = register(client, officer, full_name="Lê Văn Bảy", sex="M", birth_date="1986-02-03")["pin"]
    assert error_code(apply(client, officer, fresh, "renewal")) == "CARD_NOTHING_TO_REPLACE"


def test_the_database_refuses_a_second_produced_or_issued_card_for_a_person(client, officer, database):
    pin = register(client, officer)["pin"]
    card = issued_card(client, officer, pin)

    with database.unit_of_work() as session:
        person_id = session.scalar(select(Card.person_id).where(Card.id == card["id"]))

    with pytest.raises(IntegrityError):
        add_card(database, person_id=person_id, pin=pin, status="produced", application_kind="renewal")
    with database.unit_of_work() as session:
        assert len(session.scalars(select(Card).where(Card.pin == pin)).all()) == 1


# ---------------------------------------------------------------------------------------------
# Death, jurisdiction, history


def test_a_death_recorded_through_the_api_cancels_the_card_in_the_same_transaction(client, officer):
    pin = register(client, officer)["pin"]
    card = issued_card(client, officer, pin)
    died_on = (today_in_vietnam() - timedelta(days=2)).isoformat()

    response = client.post(
        f"/api/v1/persons/{pin}/life-status",
        json={"status": "deceased", "date": died_on, "legal_basis": DEATH_EXTRACT},
        headers=officer,
    )

    assert response.status_code == 200, response.text
    cancelled = client.get(f"/api/v1/persons/{pin}/cards/{card['id']}", headers=officer).json()
    assert (cancelled["status"], cancelled["cancel_reason"], cancelled["cancelled_on"]) == (
        "cancelled",
        "death",
        died_on,
    )
    events = client.get(f"/api/v1/persons/{pin}/history", headers=officer).json()["events"]
    death_cancel = [event for event in events if event["event_type"] == "card.cancelled"]
    assert len(death_cancel) == 1
    assert death_cancel[0]["legal_basis"] == DEATH_EXTRACT
    assert death_cancel[0]["actor"] == "official:officer"
    assert death_cancel[0]["source_agency"] == f"police:{BA_DINH}"
    assert error_code(apply(client, officer, pin)) == "PERSON_DECEASED"


def test_a_death_also_cancels_an_application_in_progress(client, officer):
    pin = register(client, officer)["pin"]
    applied = apply(client, officer, pin).json()

    client.post(
        f"/api/v1/persons/{pin}/life-status",
        json={"status": "deceased", "date": today_in_vietnam().isoformat(), "legal_basis": DEATH_EXTRACT},
        headers=officer,
    )

    assert (
        client.get(f"/api/v1/persons/{pin}/cards/{applied['id']}", headers=officer).json()["cancel_reason"] == "death"
    )


def test_officials_act_on_cards_only_within_their_jurisdiction(client, database, officer):
    pin = register(client, officer)["pin"]
    card = apply(client, officer, pin).json()
    elsewhere = sign_in(client, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)
    auditor = sign_in(client, database, username="auditor", role=Role.AUDITOR, jurisdiction_code=None)

    assert error_code(apply(client, elsewhere, pin, "replacement_lost")) == "JURISDICTION_DENIED"
    assert error_code(step(client, elsewhere, pin, card["id"], "produce")) == "JURISDICTION_DENIED"
    assert error_code(client.get(f"/api/v1/persons/{pin}/cards", headers=elsewhere)) == "JURISDICTION_DENIED"
    assert error_code(step(client, auditor, pin, card["id"], "produce")) == "ROLE_READ_ONLY"
    assert client.get(f"/api/v1/persons/{pin}/cards", headers=auditor).status_code == 200
    assert client.get(f"/api/v1/persons/{pin}/cards/{card['id']}", headers=officer).json()["status"] == "applied"


def test_every_step_is_in_the_person_history_with_the_card_before_and_after(client, officer):
    pin = register(client, officer)["pin"]
    card = issued_card(client, officer, pin)
    step(client, officer, pin, card["id"], "cancel", reason="lost", legal_basis="Đơn báo mất thẻ ngày 03/01/2026")

    events = client.get(f"/api/v1/persons/{pin}/history", headers=officer).json()["events"]
    card_events = [event for event in events if event["event_type"].startswith("card.")]

    assert [event["event_type"] for event in card_events] == [
        "card.applied",
        "card.produced",
        "card.issued",
        "card.cancelled",
    ]
    key = f"cards.{card['id']}"
    assert card_events[0]["changes"][key][0] is None
    assert card_events[0]["legal_basis"] == APPLICATION
    assert card_events[1]["legal_basis"] == f"Hồ sơ đề nghị cấp thẻ căn cước số {card['id']}"
    assert card_events[2]["changes"][key][1]["status"] == "issued"
    assert card_events[3]["changes"][key][1]["cancel_reason"] == "lost"
    as_of = client.get(f"/api/v1/persons/{pin}/as-of", params={"date": today_in_vietnam().isoformat()}, headers=officer)
    assert [record["status"] for record in as_of.json()["state"]["cards"]] == ["cancelled"]


# ---------------------------------------------------------------------------------------------
# MRZ, offline check


def test_the_mrz_of_the_valid_card_and_the_cli_print_the_same_three_lines(client, officer, database, monkeypatch):
    pin = register(client, officer, full_name="Nguyễn Thị Minh Khai", birth_date="1990-05-12")["pin"]
    assert error_code(client.get(f"/api/v1/persons/{pin}/cards/valid/mrz", headers=officer)) == "CARD_NO_VALID_CARD"
    card = issued_card(client, officer, pin)

    lines = client.get(f"/api/v1/persons/{pin}/cards/valid/mrz", headers=officer).json()["lines"]

    assert lines[0] == f"IDVNM{pin[3:]}" + lines[0][14] + f"{pin}<<" + lines[0][29]
    assert lines[1].startswith("900512") and "F" + card["expiry_date"][2:4] in lines[1]
    assert lines[2] == "NGUYEN<<THI<MINH<KHAI".ljust(30, "<")
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    get_settings.cache_clear()
    try:
        printed = CliRunner().invoke(card_cli, ["mrz", pin])
        missing = CliRunner().invoke(card_cli, ["mrz", "001190000000"])
    finally:
        get_settings.cache_clear()
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.splitlines() == lines
    assert missing.exit_code == 1
    assert missing.stderr.startswith("PERSON_NOT_FOUND:")
    with database.unit_of_work() as session:
        operator = session.scalars(select(AccessLogEntry).where(AccessLogEntry.principal_kind == "operator")).all()
    assert [(entry.action, entry.person_pin) for entry in operator] == [("card.mrz", pin)]


def check(client: TestClient, headers: dict[str, str], **body: str) -> Any:
    return client.post("/api/v1/cards/check", json=body, headers=headers)


def test_an_offline_check_of_the_mrz_matches_the_register_and_is_logged(client, officer, database):
    pin = register(client, officer)["pin"]
    card = issued_card(client, officer, pin)
    lines = client.get(f"/api/v1/persons/{pin}/cards/valid/mrz", headers=officer).json()["lines"]
    elsewhere = sign_in(client, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)

    response = check(client, elsewhere, mrz="\n".join(lines))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["matches"], body["readable"], body["card_id"]) == ("valid", True, True, card["id"])
    assert {field["field"]: field["matches"] for field in body["fields"]} == {
        "pin": True,
        "full_name": True,
        "birth_date": True,
        "sex": True,
        "expiry_date": True,
    }
    with database.unit_of_work() as session:
        logged = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "card.check")).all()
    assert [(entry.principal_id, entry.person_pin, entry.result) for entry in logged] == [("hoankiem", pin, "valid")]


def test_an_offline_check_reports_each_field_that_differs_without_revealing_the_register(client, officer):
    pin = register(client, officer)["pin"]
    issued_card(client, officer, pin)
    lines = client.get(f"/api/v1/persons/{pin}/cards/valid/mrz", headers=officer).json()["lines"]
    forged_name = "TRAN<<VAN<BA".ljust(30, "<")  # names carry no check digit

    body = check(client, officer, mrz="\n".join([lines[0], lines[1], forged_name])).json()

    assert body["readable"] is True and body["matches"] is False
    fields = {field["field"]: field for field in body["fields"]}
    assert fields["full_name"] == {"field": "full_name", "card_value": "TRAN << VAN BA", "matches": False}
    assert fields["pin"]["matches"] is True
    assert "NGUYEN" not in str(body)


def test_an_offline_check_of_a_cancelled_card_says_cancelled_and_of_an_unknown_pin_unknown(client, officer):
    pin = register(client, officer)["pin"]
    card = issued_card(client, officer, pin)
    lines = client.get(f"/api/v1/persons/{pin}/cards/valid/mrz", headers=officer).json()["lines"]
    step(client, officer, pin, card["id"], "cancel", reason="lost", legal_basis="Đơn báo mất thẻ")

    cancelled = check(client, officer, mrz="\n".join(lines)).json()
    assert (cancelled["status"], cancelled["card_id"]) == ("cancelled", card["id"])
    assert {field["field"]: field["matches"] for field in cancelled["fields"]}["expiry_date"] is False

    unknown_pin = "001" + pin[3:6] + ("000001" if pin[6:] != "000001" else "000002")
    payload = f"{unknown_pin}||Nguyễn Thị Minh Khai|12051990|Nữ|Hà Nội|02012026"
    unknown = check(client, officer, qr=payload).json()
    assert (unknown["status"], unknown["person_found"], unknown["matches"]) == ("unknown", False, False)
    assert all(field["matches"] is None for field in unknown["fields"])


def test_an_offline_check_of_the_qr_code_tells_the_card_by_its_date_of_issue(client, officer):
    pin = register(client, officer, full_name="Nguyễn Thị Minh Khai", birth_date="1990-05-12")["pin"]
    card = issued_card(client, officer, pin)
    issued = date.fromisoformat(card["date_of_issue"])
    address = "Số 12, ngõ 45, phố Đội Cấn, Phường Ba Đình, Thành phố Hà Nội"
    payload = f"{pin}||Nguyễn Thị Minh Khai|12051990|Nữ|{address}|{issued:%d%m%Y}"

    body = check(client, officer, qr=payload).json()

    assert (body["source"], body["status"], body["card_id"], body["matches"]) == ("qr", "valid", card["id"], True)
    other_day = check(client, officer, qr=payload.replace(f"{issued:%d%m%Y}", "01012020")).json()
    assert (other_day["status"], other_day["card_id"]) == ("unknown", None)
    assert {field["field"]: field["matches"] for field in other_day["fields"]}["date_of_issue"] is False


def test_an_offline_check_refuses_input_it_cannot_read_with_stable_codes(client, officer):
    assert error_code(check(client, officer, mrz="not an mrz")) == "CARD_CHECK_UNREADABLE"
    assert error_code(check(client, officer, qr="https://example.org")) == "CARD_CHECK_UNREADABLE"
    both = client.post("/api/v1/cards/check", json={"mrz": "x", "qr": "y"}, headers=officer)
    assert (both.status_code, error_code(both)) == (422, "INPUT_INVALID")
    neither = client.post("/api/v1/cards/check", json={}, headers=officer)
    assert (neither.status_code, error_code(neither)) == (422, "INPUT_INVALID")
    assert client.post("/api/v1/cards/check", json={"mrz": "x"}).status_code == 401


# ---------------------------------------------------------------------------------------------
# Rendering


def test_the_card_renders_as_svg_png_and_pdf_with_the_right_media_types(client, officer):
    pin = register(client, officer)["pin"]
    card = issued_card(client, officer, pin)
    base = f"/api/v1/persons/{pin}/cards/{card['id']}/render"

    front = client.get(f"{base}.svg", headers=officer)
    back = client.get(f"{base}.svg", params={"side": "back"}, headers=officer)
    png = client.get(f"{base}.png", params={"side": "back"}, headers=officer)
    pdf = client.get(f"{base}.pdf", params={"side": "both", "download": "true"}, headers=officer)

    assert front.status_code == 200 and front.headers["content-type"].startswith("image/svg+xml")
    assert pin in front.text and "NGUYỄN THỊ MINH KHAI" in front.text and "CĂN CƯỚC" in front.text
    assert "&lt;&lt;" in back.text and "IDVNM" in back.text
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="can-cuoc-{pin}-both.pdf"'
    assert pdf.headers["cache-control"] == "no-store"


def test_renderings_are_refused_with_stable_codes_never_a_500(client, officer, database):
    pin = register(client, officer)["pin"]
    applied = apply(client, officer, pin).json()
    base = f"/api/v1/persons/{pin}/cards/{applied['id']}/render"
    elsewhere = sign_in(client, database, username="hoankiem", jurisdiction_code=HOAN_KIEM)

    assert error_code(client.get(f"{base}.svg", headers=officer)) == "CARD_NOT_PRODUCED"
    assert client.get(f"{base}.gif", headers=officer).status_code == 422
    assert client.get(f"{base}.svg", params={"side": "top"}, headers=officer).status_code == 422
    assert error_code(client.get(f"{base}.svg", headers=elsewhere)) == "JURISDICTION_DENIED"
    assert error_code(client.get(f"/api/v1/persons/{pin}/cards/999999/render.pdf", headers=officer)) == "CARD_NOT_FOUND"


# ---------------------------------------------------------------------------------------------
# Refusals


def test_bad_steps_and_inputs_get_stable_codes_and_change_nothing(client, officer):
    pin = register(client, officer)["pin"]
    card = issued_card(client, officer, pin)
    other = register(client, officer, full_name="Lê Văn Tám", sex="M", birth_date="1985-02-03")["pin"]
    tomorrow = (today_in_vietnam() + timedelta(days=1)).isoformat()

    cases = [
        (apply(client, officer, pin, "upgrade"), 422, "INPUT_INVALID"),
        (apply(client, officer, pin, "first", colour="red"), 422, "INPUT_UNKNOWN_FIELD"),
        (
            client.post(f"/api/v1/persons/{other}/cards", json={"kind": "first"}, headers=officer),
            422,
            "LEGAL_BASIS_REQUIRED",
        ),
        (step(client, officer, pin, card["id"], "produce"), 409, "CARD_TRANSITION_INVALID"),
        (step(client, officer, pin, card["id"], "issue"), 409, "CARD_TRANSITION_INVALID"),
        (
            step(client, officer, pin, card["id"], "cancel", reason="withdrawn", legal_basis="Đơn rút"),
            409,
            "CARD_TRANSITION_INVALID",
        ),
        (step(client, officer, pin, card["id"], "cancel", reason="replaced", legal_basis="Đơn"), 422, "INPUT_INVALID"),
        (
            step(client, officer, pin, card["id"], "cancel", reason="lost", legal_basis="Đơn", expected_version=1),
            409,
            "VERSION_CONFLICT",
        ),
        (
            step(client, officer, pin, card["id"], "cancel", reason="lost", legal_basis="Đơn", cancelled_on=tomorrow),
            422,
            "DATE_IN_FUTURE",
        ),
        (step(client, officer, other, card["id"], "cancel", reason="lost", legal_basis="Đơn"), 404, "CARD_NOT_FOUND"),
        (client.get(f"/api/v1/persons/{pin}/cards/99999999999", headers=officer), 422, "INPUT_INVALID"),
        (client.get(f"/api/v1/persons/{pin}/cards/abc", headers=officer), 422, "INPUT_INVALID"),
        (client.get("/api/v1/persons/12345/cards", headers=officer), 422, "PIN_INVALID_STRUCTURE"),
        (client.get("/api/v1/persons/001190000000/cards", headers=officer), 404, "PERSON_NOT_FOUND"),
        (
            client.post(
                f"/api/v1/persons/{pin}/cards", content=b"{", headers={**officer, "Content-Type": "application/json"}
            ),
            400,
            "INPUT_MALFORMED_JSON",
        ),
    ]

    for response, status, code in cases:
        assert (response.status_code, error_code(response)) == (status, code), response.text
    assert client.get(f"/api/v1/persons/{pin}/cards/{card['id']}", headers=officer).json()["version"] == card["version"]


def test_an_issue_date_outside_production_to_today_is_refused(client, officer):
    pin = register(client, officer)["pin"]
    card_id = apply(client, officer, pin).json()["id"]
    step(client, officer, pin, card_id, "produce")

    for day in (today_in_vietnam() + timedelta(days=1), today_in_vietnam() - timedelta(days=1)):
        refused = step(client, officer, pin, card_id, "issue", issued_on=day.isoformat())
        assert (refused.status_code, error_code(refused)) == (422, "CARD_ISSUE_DATE_INVALID")


def test_only_living_vietnamese_citizens_known_to_the_day_can_apply(client, officer):
    foreigner = register(client, officer, nationality="LAO")["pin"]
    vague = register(client, officer, full_name="Lò Văn Sáu", sex="M", birth_date="1970")["pin"]

    assert error_code(apply(client, officer, foreigner)) == "CARD_NOT_A_CITIZEN"
    assert error_code(apply(client, officer, vague)) == "CARD_BIRTH_DATE_INCOMPLETE"
