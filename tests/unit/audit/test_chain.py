from dataclasses import replace
from datetime import UTC, datetime

from popreg.audit.rules import (
    GENESIS_HASH,
    LogContent,
    StoredEntry,
    entry_hash,
    items_digest,
    stored_items_digest,
    verify_chain,
)

BATCH_ITEMS = (("001203004567", "match"), (None, "PIN_INVALID"), ("079198001234", "no_match"))


def build_chain(length: int, *, batch_at: int | None = None) -> list[StoredEntry]:
    """A log of ``length`` reads; entry ``batch_at`` (if given) is a batch verification of BATCH_ITEMS."""
    entries = []
    previous = GENESIS_HASH
    for seq in range(1, length + 1):
        content = LogContent(
            seq=seq,
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            principal_kind="official",
            principal_id="officer",
            action="person.read",
            person_pin=f"{seq:012d}",
            fields="*",
            purpose="official_duty",
            legal_basis="",
            result="ok",
        )
        found_digest, found_count = None, 0
        if seq == batch_at:
            content = replace(
                content,
                principal_kind="partner",
                action="verify.batch",
                person_pin=None,
                transaction_id="6f1c1f0e-7d4e-4a8e-9a53-2f2d8f0b1c3a",
                item_count=len(BATCH_ITEMS),
                items_digest=items_digest(BATCH_ITEMS),
            )
            found_digest, found_count = stored_items(BATCH_ITEMS), len(BATCH_ITEMS)
        digest = entry_hash(previous, content)
        entries.append(StoredEntry(content, previous, digest, found_digest, found_count))
        previous = digest
    return entries


def stored_items(items):
    return stored_items_digest([(position, pin, result) for position, (pin, result) in enumerate(items)])


def check(entries, *, length: int = 5):
    head = build_chain(length)[-1] if length else None
    head_hash = head.entry_hash if head else GENESIS_HASH
    if entries and entries[-1].content.seq == length:
        head_hash = entries[-1].entry_hash
    return verify_chain(entries, head_seq=length, head_hash=head_hash)


def test_an_untouched_chain_is_intact():
    report = check(build_chain(5))
    assert report.intact
    assert report.entries_checked == 5


def test_a_chain_with_a_batch_entry_is_intact_when_its_items_are():
    report = check(build_chain(5, batch_at=3))
    assert report.intact


def test_a_changed_entry_is_found_where_it_was_changed():
    entries = build_chain(5)
    entries[2] = replace(entries[2], content=replace(entries[2].content, person_pin="999999999999"))
    report = check(entries)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "changed")]


def test_a_changed_transaction_id_is_found_where_it_was_changed():
    entries = build_chain(5, batch_at=2)
    entries[1] = replace(entries[1], content=replace(entries[1].content, transaction_id="another"))
    assert [(p.seq, p.kind) for p in check(entries).problems] == [(2, "changed")]


def test_a_changed_item_is_found_in_its_entry():
    entries = build_chain(5, batch_at=3)
    tampered = (BATCH_ITEMS[0], (None, "match"), BATCH_ITEMS[2])
    entries[2] = replace(entries[2], found_items_digest=stored_items(tampered))
    report = check(entries)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "changed")]
    assert "item of entry 3 was altered" in report.problems[0].message


def test_a_removed_item_is_found_in_its_entry_with_the_counts():
    entries = build_chain(5, batch_at=3)
    entries[2] = replace(entries[2], found_items_digest=stored_items(BATCH_ITEMS[:2]), found_item_count=2)
    report = check(entries)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "changed")]
    assert "written with 3 items, 2 are stored" in report.problems[0].message


def test_all_items_removed_is_found_in_their_entry():
    entries = build_chain(5, batch_at=3)
    entries[2] = replace(entries[2], found_items_digest=None, found_item_count=0)
    assert [(p.seq, p.kind) for p in check(entries).problems] == [(3, "changed")]


def test_items_added_to_an_entry_without_items_are_found():
    entries = build_chain(5)
    entries[3] = replace(entries[3], found_items_digest=stored_items(BATCH_ITEMS[:1]), found_item_count=1)
    report = check(entries)
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "changed")]
    assert "added to entry 4" in report.problems[0].message


def test_renumbered_item_positions_change_the_digest():
    as_written = stored_items_digest([(0, "001203004567", "match"), (1, None, "no_match")])
    renumbered = stored_items_digest([(5, "001203004567", "match"), (6, None, "no_match")])
    assert as_written != renumbered


def test_a_removed_entry_is_found_by_the_gap():
    entries = build_chain(5)
    del entries[1]
    report = check(entries)
    assert report.problems[0].kind == "removed"
    assert report.problems[0].seq == 2


def test_entries_cut_from_the_end_are_found_through_the_head():
    entries = build_chain(3)
    report = verify_chain(entries, head_seq=5, head_hash=build_chain(5)[-1].entry_hash)
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "removed")]


def test_swapped_entries_are_reported_as_out_of_place():
    entries = build_chain(5)
    # Renumber entries 2 and 3 into each other's place, keeping their own hashes: the order changed.
    second, third = entries[1], entries[2]
    moved_third = replace(third.content, seq=2)
    moved_second = replace(second.content, seq=3)
    entries[1] = StoredEntry(moved_third, third.prev_hash, entry_hash(third.prev_hash, moved_third))
    entries[2] = StoredEntry(moved_second, second.prev_hash, entry_hash(second.prev_hash, moved_second))
    report = check(entries)
    assert not report.intact
    assert {p.kind for p in report.problems} == {"reordered"}
