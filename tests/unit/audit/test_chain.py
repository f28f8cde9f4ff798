from dataclasses import replace
from datetime import UTC, datetime

from popreg.audit.rules import GENESIS_HASH, LogContent, entry_hash, verify_chain


def build_chain(length: int) -> list[tuple[LogContent, str, str]]:
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
        digest = entry_hash(previous, content)
        entries.append((content, previous, digest))
        previous = digest
    return entries


def check(entries):
    last = entries[-1] if entries else None
    return verify_chain(entries, head_seq=5, head_hash=build_chain(5)[-1][2] if last else GENESIS_HASH)


def test_an_untouched_chain_is_intact():
    report = check(build_chain(5))
    assert report.intact
    assert report.entries_checked == 5


def test_a_changed_entry_is_found_where_it_was_changed():
    entries = build_chain(5)
    content, previous, digest = entries[2]
    entries[2] = (replace(content, person_pin="999999999999"), previous, digest)
    report = check(entries)
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "changed")]


def test_a_removed_entry_is_found_by_the_gap():
    entries = build_chain(5)
    del entries[1]
    report = check(entries)
    assert report.problems[0].kind == "removed"
    assert report.problems[0].seq == 2


def test_entries_cut_from_the_end_are_found_through_the_head():
    report = check(build_chain(5)[:3])
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "removed")]


def test_swapped_entries_are_reported_as_out_of_place():
    entries = build_chain(5)
    # Renumber entries 2 and 3 into each other's place, keeping their own hashes: the order changed.
    second, third = entries[1], entries[2]
    entries[1] = (replace(third[0], seq=2), third[1], entry_hash(third[1], replace(third[0], seq=2)))
    entries[2] = (replace(second[0], seq=3), second[1], entry_hash(second[1], replace(second[0], seq=3)))
    report = check(entries)
    assert not report.intact
    assert {p.kind for p in report.problems} == {"reordered"}
