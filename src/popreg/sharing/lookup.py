"""Reading register facts for the verification hot path, many requests per query.

Requests do not each take a connection: they hand their PINs to one reader thread, which answers
everything that queued up while its previous query ran with a single query, then wakes each request
on its own event loop. Under load this turns thousands of point lookups per second into a few
hundred queries, and no event loop ever blocks on the database.

The reader uses the read-only database URL when one is configured (a PostgreSQL streaming replica),
so verification traffic never competes with the primary's writes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy.engine import Engine

from popreg.kit.database import make_engine
from popreg.sharing.facts import fetch_facts, fetch_facts_table
from popreg.sharing.rules import RegisterFacts

logger = logging.getLogger("popreg.sharing.lookup")
MAX_PINS_PER_QUERY = 1000

Facts = dict[str, RegisterFacts]


@dataclass(frozen=True, slots=True)
class _Request:
    pins: Sequence[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Facts]


_STOP = object()


class FactsLookup:
    """One reader thread and one connection per process; ``get`` may be awaited from any event loop."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.queries = 0

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._engine = make_engine(self.database_url, pool_size=1, read_only=True)
            self._thread = threading.Thread(target=self._run, name="popreg-facts-reader", daemon=True)
            self._thread.start()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        thread.join(timeout=10)
        if self._engine is not None:
            self._engine.dispose()

    async def get(self, pins: Sequence[str]) -> Facts:
        """The facts of those of ``pins`` that the register holds (unknown PINs are simply absent)."""
        self.start()
        loop = asyncio.get_running_loop()
        request = _Request(pins=pins, loop=loop, future=loop.create_future())
        self._queue.put(request)
        return await request.future

    async def table(self, pins: Sequence[str], *, fields: Sequence[str]) -> pa.Table:
        """The facts of many PINs at once as an Arrow table (:data:`popreg.sharing.facts.FACTS_SCHEMA`),
        read column-wise on a connection of its own in a worker thread: the batch route's reader."""
        self.start()
        return await asyncio.to_thread(self._read_table, pa.array(pins, pa.string()), tuple(fields))

    def _read_table(self, pins: pa.Array, fields: tuple[str, ...]) -> pa.Table:
        assert self._engine is not None  # noqa: S101 - started before
        with self._engine.connect() as connection:
            return fetch_facts_table(connection, pins, fields=fields)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            pin_count = len(first.pins)  # type: ignore[attr-defined]
            while pin_count < MAX_PINS_PER_QUERY:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if following is _STOP:
                    self._queue.put(_STOP)
                    break
                group.append(following)
                pin_count += len(following.pins)  # type: ignore[attr-defined]
            self._answer([request for request in group if isinstance(request, _Request)])

    def _answer(self, group: list[_Request]) -> None:
        pins = sorted({pin for request in group for pin in request.pins})
        facts: Facts = {}
        error: BaseException | None = None
        try:
            assert self._engine is not None  # noqa: S101 - started before any request is queued
            with self._engine.connect() as connection:
                for start in range(0, len(pins), MAX_PINS_PER_QUERY):
                    facts.update(fetch_facts(connection, pins[start : start + MAX_PINS_PER_QUERY]))
                    self.queries += 1
        except Exception as failure:  # noqa: BLE001 - handed to every waiting request
            logger.exception("register lookup failed")
            error = failure
        by_loop: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
        for request in group:
            by_loop.setdefault(request.loop, []).append(request)
        for loop, requests in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, requests, facts, error)
            except RuntimeError:  # the loop closed while its requests waited; nobody is left to answer
                continue


def _settle(requests: list[_Request], facts: Facts, error: BaseException | None) -> None:
    for request in requests:
        future = request.future
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(facts)
