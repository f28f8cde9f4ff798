"""`popreg audit verify` finds any changed, removed or reordered access-log entry."""

import pytest
from sqlalchemy import delete, select, update

from builders import register, sign_in
from popreg.audit.models import AccessLogEntry


@pytest.fixture
def logged(client, database):
    headers = sign_in(client, database)
    pin = register(client, headers)["pin"]
    for _ in range(4):
        client.get(f"/api/v1/persons/{pin}", headers=headers)
    return database


def test_an_untouched_log_verifies(logged, audit_verify):
    code, report = audit_verify()
    assert code == 0
    assert report["intact"] and report["entries_checked"] == 4


def test_a_changed_entry_is_detected(logged, audit_verify):
    with logged.unit_of_work() as session:
        session.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 2).values(purpose="curiosity"))
    code, report = audit_verify()
    assert code == 1
    assert report["problems"][0] == {"seq": 2, "kind": "changed", "message": report["problems"][0]["message"]}


def test_a_removed_entry_is_detected(logged, audit_verify):
    with logged.unit_of_work() as session:
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.seq == 3))
    code, report = audit_verify()
    assert code == 1
    assert (report["problems"][0]["seq"], report["problems"][0]["kind"]) == (3, "removed")


def test_reordered_entries_are_detected(logged, audit_verify):
    with logged.unit_of_work() as session:
        entries = {e.seq: e for e in session.execute(select(AccessLogEntry)).scalars()}
        fields = ("occurred_at", "action", "person_pin", "fields", "purpose", "prev_hash", "entry_hash")
        second = {f: getattr(entries[2], f) for f in fields}
        third = {f: getattr(entries[3], f) for f in fields}
        session.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 2).values(**third))
        session.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 3).values(**second))
    code, report = audit_verify()
    assert code == 1
    assert report["problems"][0]["seq"] == 2
