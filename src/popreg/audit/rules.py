"""The hash chain of the access log, as pure functions (no database)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class LogContent:
    """What one access-log entry says; the hash covers every field."""

    seq: int
    occurred_at: datetime
    principal_kind: str
    principal_id: str
    action: str
    person_pin: str | None
    fields: str
    purpose: str
    legal_basis: str
    result: str


def entry_hash(prev_hash: str, content: LogContent) -> str:
    """SHA-256 of the previous hash and the canonical JSON of this entry's content."""
    canonical = json.dumps(
        [
            content.seq,
            content.occurred_at.isoformat(timespec="microseconds"),
            content.principal_kind,
            content.principal_id,
            content.action,
            content.person_pin,
            content.fields,
            content.purpose,
            content.legal_basis,
            content.result,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}|{canonical}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    kind: str  # "changed", "removed", "reordered", "truncated"
    message: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries_checked: int
    problems: tuple[ChainProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(
    entries: Iterable[tuple[LogContent, str, str]], *, head_seq: int, head_hash: str, max_problems: int = 20
) -> ChainReport:
    """Check a log read in sequence order: ``(content, prev_hash, stored_hash)`` per entry.

    A gap in the sequence is a removal; an entry whose own hash is intact but that links to some
    other predecessor was moved (reordered); an entry whose stored hash differs from the recomputed
    one was changed; a head that points past the last entry means entries were cut from the end.
    """
    problems: list[ChainProblem] = []
    expected_seq = 1
    expected_prev = GENESIS_HASH
    checked = 0
    for content, prev_hash, stored_hash in entries:
        checked += 1
        intact = entry_hash(prev_hash, content) == stored_hash
        if content.seq > expected_seq:
            missing = (
                f"entry {expected_seq}"
                if content.seq == expected_seq + 1
                else f"entries {expected_seq} to {content.seq - 1}"
            )
            problems.append(ChainProblem(expected_seq, "removed", f"{missing} missing before entry {content.seq}"))
        elif not intact:
            problems.append(
                ChainProblem(content.seq, "changed", f"entry {content.seq} was altered after it was written")
            )
        elif prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    content.seq, "reordered", f"entry {content.seq} is out of place: it was written after another entry"
                )
            )
        expected_seq = content.seq + 1
        expected_prev = stored_hash
        if len(problems) >= max_problems:
            break
    else:
        last_seq = expected_seq - 1
        if head_seq > last_seq:
            problems.append(
                ChainProblem(
                    last_seq + 1, "removed", f"entries {last_seq + 1} to {head_seq} missing at the end of the log"
                )
            )
        elif head_seq == last_seq and head_seq > 0 and head_hash != expected_prev:
            problems.append(ChainProblem(last_seq, "changed", "the last entry does not match the log head"))
    return ChainReport(entries_checked=checked, problems=tuple(problems))
