"""The gateway's log writer: an entry is committed before its request is answered, in shared commits."""

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from popreg.audit.group_commit import AccessLogUnavailable, GroupCommitLog
from popreg.audit.models import AccessLogEntry, AccessLogItem
from popreg.audit.service import InvalidLogEntry, PendingEntry, verify_log

OTHER_PROCESS = """
import asyncio, sys
from popreg.audit.group_commit import GroupCommitLog
from popreg.audit.service import PendingEntry

url, waves, per_wave = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


async def append_all(log):
    for wave in range(waves):
        await asyncio.gather(
            *(
                log.append(PendingEntry("partner", "other-process", "verify", None, transaction_id=f"o-{wave}-{n}"))
                for n in range(per_wave)
            )
        )
        await asyncio.sleep(0.005)


with GroupCommitLog(url) as log:
    print("ready", flush=True)
    sys.stdin.readline()
    asyncio.run(append_all(log))
"""


def verification(name: str, **overrides) -> PendingEntry:
    values = {
        "principal_kind": "partner",
        "principal_id": "bank-01",
        "action": "verify",
        "person_pin": "001203004567",
        "fields": ("full_name",),
        "purpose": "account_opening",
        "result": "match",
        "transaction_id": name,
    }
    return PendingEntry(**{**values, **overrides})


@pytest.fixture
def log(database) -> Iterator[GroupCommitLog]:
    with GroupCommitLog(database.url) as writer:
        yield writer


@pytest.fixture
def observer(database):
    """Connections of their own, opened afresh for each look: they see only what was committed."""
    engine = create_engine(database.url, poolclass=NullPool)
    yield engine
    engine.dispose()


def logged_transactions(database) -> dict[int, str]:
    with database.unit_of_work() as session:
        return {
            row.seq: row.transaction_id
            for row in session.execute(select(AccessLogEntry.seq, AccessLogEntry.transaction_id))
        }


def assert_intact(database, *, entries: int) -> None:
    with database.read_session() as session:
        report = verify_log(session)
    assert report.problems == ()
    assert report.entries_checked == entries


def test_concurrent_appends_from_one_event_loop_are_committed_when_they_return(log, observer, database):
    def committed(seq: int) -> str | None:
        with observer.connect() as connection:
            return connection.execute(
                select(AccessLogEntry.transaction_id).where(AccessLogEntry.seq == seq)
            ).scalar_one_or_none()

    async def append_and_look(n: int) -> tuple[int, str | None]:
        seq = await log.append(verification(f"tx-{n}"))
        return seq, committed(seq)

    async def append_all() -> list[tuple[int, str | None]]:
        return await asyncio.gather(*(append_and_look(n) for n in range(300)))

    results = asyncio.run(append_all())

    assert sorted(seq for seq, _ in results) == list(range(1, 301))
    assert [seen for _, seen in results] == [f"tx-{n}" for n in range(300)]
    assert log.entries_committed == 300
    assert log.groups_committed < 300  # entries that queued up during a commit shared the next one
    assert_intact(database, entries=300)


def test_a_batch_entry_is_committed_with_its_items(log, database):
    items = (("001203004567", "match"), (None, "PIN_INVALID"), ("079198001234", "no_match"))
    seq = asyncio.run(log.append(verification("tx-batch", action="verify.batch", person_pin=None, items=items)))
    with database.unit_of_work() as session:
        stored = session.execute(
            select(AccessLogItem.person_pin, AccessLogItem.result)
            .where(AccessLogItem.seq == seq)
            .order_by(AccessLogItem.position)
        ).all()
    assert [tuple(row) for row in stored] == list(items)
    assert_intact(database, entries=1)


def test_appends_from_worker_threads_keep_each_callers_entries_together_and_in_order(log, database):
    seqs_by_caller: dict[tuple[int, int], list[int]] = {}

    def worker(thread: int) -> None:
        for call in range(20):
            entries = [verification(f"t{thread}-{call}-{n}") for n in range(1 + call % 3)]
            seqs_by_caller[thread, call] = log.append_blocking(entries)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every_seq = sorted(seq for seqs in seqs_by_caller.values() for seq in seqs)
    assert every_seq == list(range(1, len(every_seq) + 1))
    logged = logged_transactions(database)
    for (thread, call), seqs in seqs_by_caller.items():
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert [logged[seq] for seq in seqs] == [f"t{thread}-{call}-{n}" for n in range(len(seqs))]
    assert_intact(database, entries=len(every_seq))


def test_a_failed_commit_fails_every_waiter_of_its_group_and_the_writer_carries_on(log, database):
    asyncio.run(log.append(verification("before")))

    async def append_many() -> list[int | BaseException]:
        return await asyncio.gather(*(log.append(verification(f"lost-{n}")) for n in range(50)), return_exceptions=True)

    with database.engine.begin() as connection:
        connection.execute(text("ALTER TABLE access_log RENAME TO access_log_elsewhere"))
    try:
        outcomes = asyncio.run(append_many())
        with pytest.raises(AccessLogUnavailable) as blocked:
            log.append_blocking([verification("lost-blocking")])
    finally:
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE access_log_elsewhere RENAME TO access_log"))

    assert all(isinstance(outcome, AccessLogUnavailable) for outcome in outcomes)
    assert all(outcome.status_code == 503 and outcome.__cause__ is not None for outcome in outcomes)
    assert blocked.value.code == "ACCESS_LOG_UNAVAILABLE"
    assert asyncio.run(log.append(verification("after"))) == 2
    assert logged_transactions(database) == {1: "before", 2: "after"}
    assert_intact(database, entries=2)


def test_an_entry_that_does_not_fit_is_refused_alone_and_at_once(log, database):
    async def append_with_one_oversized() -> list[int | BaseException]:
        entries = [verification("a"), verification("too long", purpose="p" * 121), verification("b")]
        return await asyncio.gather(*(log.append(entry) for entry in entries), return_exceptions=True)

    first, refused, last = asyncio.run(append_with_one_oversized())

    assert isinstance(refused, InvalidLogEntry)
    assert sorted([first, last]) == [1, 2]
    assert sorted(logged_transactions(database).values()) == ["a", "b"]


def test_closing_commits_every_entry_already_accepted_then_refuses_new_ones(database):
    log = GroupCommitLog(database.url)
    log.start()

    async def append_then_close() -> list[int]:
        appends = [asyncio.create_task(log.append(verification(f"tx-{n}"))) for n in range(200)]
        await asyncio.sleep(0)  # every append has queued its entry
        await asyncio.to_thread(log.close)
        with pytest.raises(AccessLogUnavailable):
            await log.append(verification("too late"))
        return await asyncio.gather(*appends)

    seqs = asyncio.run(append_then_close())

    assert sorted(seqs) == list(range(1, 201))
    assert len(logged_transactions(database)) == 200


def test_writers_in_two_processes_share_one_unbroken_chain(log, database):
    waves, per_wave = 40, 10
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, database.url, str(waves), str(per_wave)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "ready"
        other.stdin.write("go\n")
        other.stdin.flush()

        async def append_all() -> None:
            # Requests arrive in waves with pauses between them, as they do from clients: a writer that
            # commits back to back can keep SQLite's lock from the other process (its busy handler polls).
            for wave in range(waves):
                await asyncio.gather(*(log.append(verification(f"h-{wave}-{n}")) for n in range(per_wave)))
                await asyncio.sleep(0.005)

        asyncio.run(append_all())
        assert other.wait(timeout=120) == 0
    finally:
        other.kill()

    logged = logged_transactions(database)
    assert sorted(logged) == list(range(1, 2 * waves * per_wave + 1))
    writers = [logged[seq][0] for seq in sorted(logged)]
    assert writers.count("h") == writers.count("o") == waves * per_wave
    switches = sum(1 for a, b in zip(writers, writers[1:], strict=False) if a != b)
    assert switches > 1  # the two writers' commits really interleaved
    assert_intact(database, entries=2 * waves * per_wave)
