"""``popreg partner`` on SQLite and PostgreSQL: the operator's whole workflow, logged as ``cli``."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from popreg.audit.models import AccessLogEntry
from popreg.kit.settings import get_settings
from popreg.sharing.cli import app as partner_cli
from popreg.sharing.models import Partner, PartnerKey, PartnerPolicy


@pytest.fixture
def run(database: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("POPREG_DATABASE_URL", database.url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(partner_cli, list(args))
    get_settings.cache_clear()


def test_the_operator_registers_a_partner_with_policy_and_key_then_rotates_and_suspends(run, database, tmp_path):
    private_file = tmp_path / "vietbank.private.jwk"

    created = run("create", "vietbank", "--name", "Ngân hàng Việt", "--kind", "business")
    policy = run(
        "policy", "vietbank", "--operations", "verify", "--verify-fields", "full_name,birth_date",
        "--purposes", "account-opening", "--daily-quota", "5000", "--rate", "50", "--burst", "100",
    )  # fmt: skip
    generated = run("keygen", str(private_file))
    public_file = tmp_path / "vietbank.public.jwk"
    public_file.write_text(generated.stdout, encoding="utf-8")
    added = run("add-key", "vietbank", str(public_file))
    kid = json.loads(generated.stdout)["kid"]
    retired = run("retire-key", "vietbank", "--", kid)  # a key id may start with "-"
    suspended = run("suspend", "vietbank", "--reason", "contract ended")
    resumed = run("resume", "vietbank")
    listed = run("list")

    assert [r.exit_code for r in (created, policy, generated, added, retired, suspended, resumed, listed)] == [0] * 8
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    assert "d" in json.loads(private_file.read_text()) and "d" not in json.loads(generated.stdout)
    [partner] = json.loads(listed.stdout)
    assert (partner["id"], partner["status"], partner["policy"]["version"]) == ("vietbank", "active", 2)
    assert partner["policy"]["verify_fields"] == ["full_name", "birth_date"]
    assert [(key["kid"], key["status"]) for key in partner["keys"]] == [(kid, "retired")]
    with database.unit_of_work() as session:
        actions = session.execute(
            select(AccessLogEntry.principal_kind, AccessLogEntry.principal_id, AccessLogEntry.action).order_by(
                AccessLogEntry.seq
            )
        ).all()
    assert [tuple(row) for row in actions] == [
        ("system", "cli", action)
        for action in (
            "partner.create",
            "partner.policy",
            "partner.key.add",
            "partner.key.retire",
            "partner.suspend",
            "partner.resume",
        )
    ]


def test_refusals_print_their_code_exit_1_and_change_nothing(run, database, tmp_path):
    run("create", "vietbank", "--name", "Ngân hàng Việt", "--kind", "business")
    private_key = tmp_path / "private.jwk"
    run("keygen", str(private_key))
    not_json = tmp_path / "broken.jwk"
    not_json.write_text("{", encoding="utf-8")

    outcomes = {
        "PARTNER_ID_INVALID": run("create", "Viet Bank", "--name", "x", "--kind", "agency"),
        "POLICY_FIELD_UNKNOWN": run(
            "policy", "vietbank", "--verify-fields", "salary", "--daily-quota", "1", "--rate", "1", "--burst", "1"
        ),
        "INPUT_INVALID": run("policy", "vietbank", "--daily-quota", "-1", "--rate", "1", "--burst", "1"),
        "PARTNER_KEY_PRIVATE": run("add-key", "vietbank", str(private_key)),
        "PARTNER_KEY_INVALID": run("add-key", "vietbank", str(not_json)),
        "PARTNER_NOT_FOUND": run("suspend", "nobody", "--reason", "x"),
        "FILE_EXISTS": run("keygen", str(private_key)),
    }

    seen = {code: (result.exit_code, code in result.output) for code, result in outcomes.items()}
    assert seen == dict.fromkeys(outcomes, (1, True))
    with database.unit_of_work() as session:
        assert session.scalars(select(Partner.id)).all() == ["vietbank"]
        assert session.get(PartnerPolicy, "vietbank").version == 1
        assert session.scalars(select(PartnerKey)).all() == []


def test_keygen_makes_ed25519_keys_too(run, tmp_path: Path):
    result = run("keygen", str(tmp_path / "k.jwk"), "--alg", "EdDSA")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["crv"] == "Ed25519"
