"""Specifications of ``popreg card parse-mrz`` and ``popreg card parse-qr``: one JSON object, exit 0 or 1."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from popreg.cards.cli import app

runner = CliRunner()
# ICAO Doc 9303 Part 5, the TD1 example.
ICAO_TD1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<\n"
VIETNAMESE_CARD = "\r\n".join(
    ["IDVNM2051234564079205123456<<4", "0503040M3003046VNM<<<<<<<<<<<2", "NGUYEN<<VAN<DUC<<<<<<<<<<<<<<<", ""]
)


def test_parse_mrz_prints_the_format_validity_fields_and_checks_and_exits_0_when_valid() -> None:
    outcome = runner.invoke(app, ["parse-mrz"], input=VIETNAMESE_CARD)

    assert outcome.exit_code == 0, outcome.output
    body = json.loads(outcome.output)
    assert body["format"] == "TD1"
    assert body["valid"] is True
    assert body["fields"]["pin"] == "079205123456"
    assert body["fields"]["birth_date"] == "2005-03-04"
    assert {check["name"] for check in body["checks"]} == {
        "document_number",
        "birth_date",
        "expiry_date",
        "composite",
        "pin",
    }


def test_parse_mrz_exits_1_with_the_error_codes_when_a_check_digit_is_wrong() -> None:
    outcome = runner.invoke(app, ["parse-mrz"], input=ICAO_TD1.replace("7408122F", "7408123F"))

    assert outcome.exit_code == 1
    body = json.loads(outcome.output)
    assert body["valid"] is False
    assert [error["code"] for error in body["errors"]] == ["MRZ_CHECK_DIGIT", "MRZ_CHECK_DIGIT"]


def test_parse_mrz_answers_bytes_that_are_not_text_with_json_and_exit_1() -> None:
    outcome = runner.invoke(app, ["parse-mrz"], input=b"\xff\xfe\x00garbage")

    assert outcome.exit_code == 1
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
    assert json.loads(outcome.output)["valid"] is False


def test_parse_qr_prints_the_card_fields_and_exits_0_when_valid() -> None:
    outcome = runner.invoke(app, ["parse-qr", "079205123456||Nguyễn Văn Đức|04032005|Nam|Huế|15062021"])

    assert outcome.exit_code == 0, outcome.output
    body = json.loads(outcome.output)
    assert body == {
        "pin": "079205123456",
        "old_id": None,
        "full_name": "Nguyễn Văn Đức",
        "birth_date": "2005-03-04",
        "sex": "M",
        "address": "Huế",
        "issue_date": "2021-06-15",
        "warnings": [],
        "valid": True,
    }


def test_parse_qr_exits_1_with_a_warning_for_another_documents_code() -> None:
    outcome = runner.invoke(app, ["parse-qr", "000201010212"])

    assert outcome.exit_code == 1
    assert [warning["code"] for warning in json.loads(outcome.output)["warnings"]] == ["QR_NOT_A_CARD"]
