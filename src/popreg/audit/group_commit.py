"""The gateway's access-log writer: every request is logged durably before its answer is sent.

One commit per request would cap the gateway at the disk's flush rate. Instead one writer thread per
process owns a database connection and commits in groups: it waits for the first entry, takes
every entry that queued up meanwhile (up to ``max_batch``), appends them all in one transaction and
one commit, and only then tells each waiting request its sequence number. The more requests arrive
while a commit is being flushed, the larger the next group, so throughput grows with load while a
lone request waits for just one commit.

If a commit fails, every request of that group gets :class:`AccessLogUnavailable` (HTTP 503): no
answer is ever sent without its log entry. The writer carries on with the next group on a fresh
connection. Several processes may each run a writer on the same database; the log's head row
orders their transactions, so the chain stays one chain.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, event

from popreg.audit.service import PendingEntry, check_entry, write_entries
from popreg.kit.database import is_sqlite, make_engine
from popreg.kit.errors import DomainError


class AccessLogUnavailable(DomainError):
    """The access log could not record the request, so the request must not be answered."""

    status_code = 503
    code = "ACCESS_LOG_UNAVAILABLE"


class _Waiter:
    """Entries accepted together and the caller waiting for their sequence numbers."""

    __slots__ = ("entries",)

    def __init__(self, entries: Sequence[PendingEntry]) -> None:
        self.entries = entries


class _AsyncWaiter(_Waiter):
    __slots__ = ("future", "loop")

    def __init__(self, entry: PendingEntry, loop: asyncio.AbstractEventLoop, future: asyncio.Future[int]) -> None:
        super().__init__((entry,))
        self.loop = loop
        self.future = future


class _ThreadWaiter(_Waiter):
    __slots__ = ("done", "error", "seqs")

    def __init__(self, entries: Sequence[PendingEntry]) -> None:
        super().__init__(entries)
        self.done = threading.Event()
        self.seqs: list[int] = []
        self.error: BaseException | None = None


# Per event loop, the futures of its waiters and what each gets: a sequence number or the error.
_Outcomes = dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int | BaseException]]]


def _settle(outcomes: list[tuple[asyncio.Future[int], int | BaseException]]) -> None:
    """Runs in the waiters' event loop: one wake-up of that loop per group, not one per entry."""
    for future, outcome in outcomes:
        if future.done():  # the request was cancelled meanwhile; its entry is logged all the same
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _durable_engine(database_url: str) -> Engine:
    """An engine whose commits survive a crash of the machine, not just of the process.

    SQLite: WAL with ``synchronous=FULL`` (the WAL is flushed to disk at every commit; the shared
    engines use NORMAL, which may lose the last commits on power loss) and ``BEGIN IMMEDIATE``.
    PostgreSQL: the server's synchronous commit, as configured.
    """
    engine = make_engine(database_url, pool_size=1)
    if is_sqlite(database_url):

        @event.listens_for(engine, "connect")
        def _flush_every_commit(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

    return engine


class GroupCommitLog:
    """The durable-before-answer access-log writer shared by all requests of one process.

    ``start()`` it once, ``append`` from the event loop or ``append_blocking`` from worker threads,
    and ``close()`` it at shutdown: close returns once every accepted entry is committed (or has
    failed). An in-memory SQLite URL cannot be used: the writer has a connection of its own.
    """

    def __init__(self, database_url: str, *, max_batch: int = 4096, linger_seconds: float = 0.002) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._database_url = database_url
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._lingering = False  # while it lingers, the writer is woken only by a full batch
        self._queue: deque[_Waiter] = deque()
        self._condition = threading.Condition(threading.Lock())
        self._closing = False
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self.groups_committed = 0  # entries_committed / groups_committed: the average group size
        self.entries_committed = 0

    def start(self) -> None:
        """Connect and start the writer thread."""
        with self._condition:
            if self._thread is not None:
                raise RuntimeError("the access-log writer is already started")
            self._engine = _durable_engine(self._database_url)
            self._thread = threading.Thread(target=self._write_groups, name="access-log-writer", daemon=True)
            self._thread.start()

    async def append(self, entry: PendingEntry) -> int:
        """Log one entry; return its sequence number once the commit that made it durable is done.

        Raises :class:`~popreg.audit.service.InvalidLogEntry` at once for an entry that does not fit
        (nothing is queued), and :class:`AccessLogUnavailable` when its group could not be committed.
        """
        check_entry(entry)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._submit(_AsyncWaiter(entry, loop, future))
        return await future

    def append_blocking(self, entries: Sequence[PendingEntry]) -> list[int]:
        """Log entries (in this order, in one group) from a worker thread; their sequence numbers once durable."""
        for entry in entries:
            check_entry(entry)
        if not entries:
            return []
        waiter = _ThreadWaiter(entries)
        self._submit(waiter)
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        return waiter.seqs

    def close(self) -> None:
        """Stop accepting entries, commit every entry already accepted, then stop the writer."""
        with self._condition:
            if self._closing:
                return
            self._closing = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join()
        if self._engine is not None:
            self._engine.dispose()
        with self._condition:  # stopped: it may be started again
            self._thread, self._engine, self._closing = None, None, False

    def __enter__(self) -> GroupCommitLog:
        self.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.close()

    def _submit(self, waiter: _Waiter) -> None:
        with self._condition:
            if self._thread is None or self._closing:
                raise AccessLogUnavailable("The access log is not accepting entries: the service is not running.")
            self._queue.append(waiter)
            if not self._lingering or len(self._queue) >= self._max_batch:
                self._condition.notify()

    def _next_group(self) -> list[_Waiter]:
        """Block until something is queued; take it all, up to ``max_batch`` entries. Empty: closed and drained.

        A commit costs a fixed 200-300 µs of CPU (the transaction, the head row, the WAL flush) however
        many entries it carries, so the writer lingers up to ``linger_seconds`` after the first entry
        for others to join: under load that turns a commit per request into a commit per group of
        dozens, for at most that much added latency.
        """
        with self._condition:
            while not self._queue and not self._closing:
                self._condition.wait()
            if self._linger > 0 and not self._closing:
                deadline = time.monotonic() + self._linger
                self._lingering = True
                while len(self._queue) < self._max_batch and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._condition.wait(remaining)
                self._lingering = False
            group: list[_Waiter] = []
            taken = 0
            while self._queue and taken < self._max_batch:
                waiter = self._queue.popleft()
                group.append(waiter)
                taken += len(waiter.entries)
            return group

    def _write_groups(self) -> None:
        assert self._engine is not None  # noqa: S101 - set by start() before the thread starts
        connection: Connection | None = None
        while group := self._next_group():
            entries = group[0].entries if len(group) == 1 else [entry for w in group for entry in w.entries]
            try:
                if connection is None:
                    connection = self._engine.connect()
                with connection.begin():
                    rows = write_entries(connection, entries)
            except Exception as error:  # noqa: BLE001 - whatever failed, the group's requests must not be answered
                if connection is not None:
                    # A broken connection is discarded (closing it may fail too); the next group gets a fresh one.
                    with suppress(Exception):
                        connection.close()
                    connection = None
                _fail(group, error)
            else:
                self.groups_committed += 1
                self.entries_committed += len(rows)
                _resolve(group, [row[0] for row in rows])
        if connection is not None:
            connection.close()


def _unavailable(cause: Exception) -> AccessLogUnavailable:
    error = AccessLogUnavailable("The access log could not record the request, so it was not answered; retry shortly.")
    error.__cause__ = cause
    return error


def _resolve(group: list[_Waiter], seqs: list[int]) -> None:
    by_loop: _Outcomes = {}
    position = 0
    for waiter in group:
        if isinstance(waiter, _AsyncWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, seqs[position]))
            position += 1
        elif isinstance(waiter, _ThreadWaiter):
            waiter.seqs = seqs[position : position + len(waiter.entries)]
            position += len(waiter.entries)
            waiter.done.set()
    _wake(by_loop)


def _fail(group: list[_Waiter], cause: Exception) -> None:
    """Each waiter gets an error of its own (one raised in many tasks would collect all their tracebacks)."""
    by_loop: _Outcomes = {}
    for waiter in group:
        if isinstance(waiter, _AsyncWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, _unavailable(cause)))
        elif isinstance(waiter, _ThreadWaiter):
            waiter.error = _unavailable(cause)
            waiter.done.set()
    _wake(by_loop)


def _wake(by_loop: _Outcomes) -> None:
    for loop, outcomes in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, outcomes)
        except RuntimeError:  # the loop was closed: nobody is waiting for these answers any more
            continue
