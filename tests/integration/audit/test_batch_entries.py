"""Batch and bulk requests are one chained entry each, with their items covered by the entry's hash."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert, select, update

from popreg.audit.models import AccessLogEntry, AccessLogHead, AccessLogItem
from popreg.audit.rules import GENESIS_HASH
from popreg.audit.service import (
    InvalidLogEntry,
    PendingEntry,
    append_entries,
    entries_for_person,
    record_access,
    verify_log,
)

ALICE = "001203004567"
BINH = "079198001234"
CHAU = "036305000042"


def verification(pin: str | None = ALICE, *, result: str = "match", **overrides) -> PendingEntry:
    values = {
        "principal_kind": "partner",
        "principal_id": "bank-01",
        "action": "verify",
        "person_pin": pin,
        "fields": ("full_name", "birth_date"),
        "purpose": "account_opening",
        "legal_basis": "Decree 69/2024/ND-CP, Article 15",
        "result": result,
        "transaction_id": f"tx-{pin}-{result}",
    }
    return PendingEntry(**{**values, **overrides})


def batch(items, **overrides) -> PendingEntry:
    return verification(None, result="ok", action="verify.batch", items=tuple(items), **overrides)


@pytest.fixture
def batch_log(database):
    """Five entries: a read, a batch of three, a verification, a batch of two, a read."""
    with database.unit_of_work() as session:
        append_entries(
            session,
            [
                verification(ALICE, action="read", result="ok"),
                batch([(ALICE, "match"), (None, "PIN_INVALID"), (BINH, "no_match")], transaction_id="tx-batch-1"),
                verification(BINH, result="no_match"),
                batch([(CHAU, "match"), (ALICE, "no_match")], transaction_id="tx-batch-2"),
                verification(CHAU, action="read", result="ok"),
            ],
        )
    return database


def first_problem(report: dict) -> tuple[int, str]:
    return report["problems"][0]["seq"], report["problems"][0]["kind"]


def test_entries_appended_together_get_consecutive_sequence_numbers_in_order(batch_log):
    with batch_log.unit_of_work() as session:
        assert append_entries(session, [verification(), verification(BINH)]) == [6, 7]
        actions = session.scalars(select(AccessLogEntry.action).order_by(AccessLogEntry.seq)).all()
        head = session.get(AccessLogHead, 1)
        last_hash = session.scalar(select(AccessLogEntry.entry_hash).where(AccessLogEntry.seq == 7))
    assert actions == ["read", "verify.batch", "verify", "verify.batch", "read", "verify", "verify"]
    assert (head.last_seq, head.last_hash) == (7, last_hash)


def test_a_batch_entry_stores_its_items_in_request_order(batch_log):
    with batch_log.unit_of_work() as session:
        entry = session.get(AccessLogEntry, 2)
        items = session.execute(
            select(AccessLogItem.position, AccessLogItem.person_pin, AccessLogItem.result)
            .where(AccessLogItem.seq == 2)
            .order_by(AccessLogItem.position)
        ).all()
    assert (entry.transaction_id, entry.item_count, entry.person_pin) == ("tx-batch-1", 3, None)
    assert [tuple(item) for item in items] == [(0, ALICE, "match"), (1, None, "PIN_INVALID"), (2, BINH, "no_match")]


def test_a_log_with_batch_entries_verifies(batch_log, audit_verify):
    code, report = audit_verify()
    assert code == 0
    assert report == {"intact": True, "entries_checked": 5, "problems": []}


def test_a_changed_entry_is_named(batch_log, audit_verify):
    with batch_log.unit_of_work() as session:
        session.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 4).values(purpose="curiosity"))
    code, report = audit_verify()
    assert code == 1
    assert first_problem(report) == (4, "changed")


def test_a_removed_batch_entry_is_named_even_though_its_items_remain(batch_log, audit_verify):
    with batch_log.unit_of_work() as session:
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.seq == 2))
    code, report = audit_verify()
    assert code == 1
    assert first_problem(report) == (2, "removed")


def test_reordered_entries_are_named(batch_log, audit_verify):
    columns = [c.key for c in AccessLogEntry.__table__.columns if c.key != "seq"]
    with batch_log.unit_of_work() as session:
        second, third = (
            session.execute(select(*(AccessLogEntry.__table__.c[c] for c in columns)).where(AccessLogEntry.seq == s))
            .one()
            ._asdict()
            for s in (2, 3)
        )
        session.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 2).values(**third))
        session.execute(update(AccessLogEntry).where(AccessLogEntry.seq == 3).values(**second))
    code, report = audit_verify()
    assert code == 1
    assert report["problems"][0]["seq"] == 2


def test_a_changed_item_is_named_by_its_entry(batch_log, audit_verify):
    with batch_log.unit_of_work() as session:
        session.execute(
            update(AccessLogItem).where(AccessLogItem.seq == 2, AccessLogItem.position == 2).values(result="match")
        )
    code, report = audit_verify()
    assert code == 1
    assert first_problem(report) == (2, "changed")
    assert "item of entry 2" in report["problems"][0]["message"]


def test_a_removed_item_is_named_by_its_entry(batch_log, audit_verify):
    with batch_log.unit_of_work() as session:
        session.execute(delete(AccessLogItem).where(AccessLogItem.seq == 4, AccessLogItem.position == 1))
    code, report = audit_verify()
    assert code == 1
    assert first_problem(report) == (4, "changed")
    assert "written with 2 items, 1 are stored" in report["problems"][0]["message"]


def test_an_item_slipped_into_a_single_verification_is_named_by_that_entry(batch_log, audit_verify):
    with batch_log.unit_of_work() as session:
        session.execute(insert(AccessLogItem).values(seq=3, position=0, person_pin=CHAU, result="match"))
    code, report = audit_verify()
    assert code == 1
    assert first_problem(report) == (3, "changed")


def test_items_added_after_the_last_entry_are_reported(batch_log):
    with batch_log.unit_of_work() as session:
        session.execute(insert(AccessLogItem).values(seq=9, position=0, person_pin=CHAU, result="match"))
        report = verify_log(session)
    assert [(p.seq, p.kind) for p in report.problems] == [(9, "changed")]


def test_entries_written_before_the_gateway_fields_still_verify_and_new_ones_chain_onto_them(database):
    # Two rows exactly as the access log wrote them before batches existed (hashes from that code).
    first = "f01e5983d994f9b79c366a7def78f34080b275e8e3555dacb563709292ed1536"
    second = "57336768ae98d684057d46cfb4d739c0f54fc55928657a111706fe26c2307af6"
    old_row = {
        "principal_kind": "official",
        "principal_id": "ha.nguyen",
        "person_pin": ALICE,
        "fields": "full_name,birth_date",
        "purpose": "official_duty",
        "legal_basis": "Luật Cư trú 2020, Điều 8",
    }
    with database.unit_of_work() as session:
        session.execute(
            insert(AccessLogEntry),
            [
                {
                    **old_row,
                    "seq": 1,
                    "occurred_at": datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC),
                    "action": "person.read",
                    "result": "ok",
                    "prev_hash": GENESIS_HASH,
                    "entry_hash": first,
                },
                {
                    **old_row,
                    "seq": 2,
                    "occurred_at": datetime(2026, 3, 14, 9, 27, 0, tzinfo=UTC),
                    "action": "card.check",
                    "result": "valid",
                    "prev_hash": first,
                    "entry_hash": second,
                },
            ],
        )
        session.execute(update(AccessLogHead).where(AccessLogHead.id == 1).values(last_seq=2, last_hash=second))
    with database.unit_of_work() as session:
        assert verify_log(session).intact
        append_entries(session, [batch([(ALICE, "match")]), verification(BINH)])
    with database.unit_of_work() as session:
        report = verify_log(session)
    assert report.intact
    assert report.entries_checked == 4


def test_record_access_appends_an_entry_without_gateway_fields_and_returns_it_as_written(batch_log):
    with batch_log.unit_of_work() as session:
        returned = record_access(
            session,
            principal_kind="official",
            principal_id="officer",
            action="person.read",
            person_pin=ALICE,
            fields=("full_name",),
            purpose="official_duty",
        )
    with batch_log.unit_of_work() as session:
        stored = session.get(AccessLogEntry, 6)
        assert verify_log(session).intact
    assert (returned.seq, returned.entry_hash, returned.prev_hash) == (6, stored.entry_hash, stored.prev_hash)
    assert (stored.transaction_id, stored.item_count, stored.items_digest) == (None, None, None)


def test_a_time_given_in_another_zone_is_stored_in_utc_and_still_verifies(database):
    in_hanoi = datetime(2026, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=7)))
    with database.unit_of_work() as session:
        append_entries(session, [verification(occurred_at=in_hanoi)])
    with database.unit_of_work() as session:
        stored = session.get(AccessLogEntry, 1)
        assert verify_log(session).intact
    assert stored.occurred_at == datetime(2026, 5, 1, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "oversized",
    [
        {"purpose": "p" * 121},
        {"person_pin": "0012030045678"},
        {"transaction_id": "t" * 37},
        {"items": ((ALICE, "r" * 41),)},
        {"items": (("0" * 13, "match"),)},
        {"occurred_at": datetime(2026, 5, 1, 8, 0)},  # noqa: DTZ001 - a naive time is what is refused
    ],
)
def test_an_entry_that_does_not_fit_is_refused_and_nothing_is_written(batch_log, oversized):
    with pytest.raises(InvalidLogEntry), batch_log.unit_of_work() as session:
        append_entries(session, [verification(), verification(**oversized)])
    with batch_log.unit_of_work() as session:
        assert session.get(AccessLogHead, 1).last_seq == 5


def test_a_persons_accesses_include_batches_that_looked_them_up_newest_first(batch_log):
    with batch_log.unit_of_work() as session:
        accesses = entries_for_person(session, pins=[ALICE])
    assert [(a.seq, a.action, a.result, a.position, a.transaction_id) for a in accesses] == [
        (4, "verify.batch", "no_match", 1, "tx-batch-2"),
        (2, "verify.batch", "match", 0, "tx-batch-1"),
        (1, "read", "ok", None, f"tx-{ALICE}-ok"),
    ]
    newest = accesses[0]
    assert (newest.principal_kind, newest.principal_id) == ("partner", "bank-01")
    assert (newest.purpose, newest.legal_basis) == ("account_opening", "Decree 69/2024/ND-CP, Article 15")
    assert newest.fields == ("full_name", "birth_date")
    assert newest.occurred_at.tzinfo is not None


def test_a_persons_accesses_stop_at_the_limit_and_leave_out_other_persons(batch_log):
    with batch_log.unit_of_work() as session:
        limited = entries_for_person(session, pins=[ALICE], limit=2)
        binh = entries_for_person(session, pins=[BINH])
    assert [a.seq for a in limited] == [4, 2]
    assert [(a.seq, a.result) for a in binh] == [(3, "no_match"), (2, "no_match")]
