"""An event dispatcher (`popreg events dispatch`) killed with SIGKILL between the commit of the changes
and their delivery, while the subscriber holds a request: once a dispatcher runs again, every committed
event arrives at least once, deduplicable by its id, and in order per person."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from integration.events.conftest import register_person, rename, subscribe
from integration.events.webhook_receiver import Receiver
from popreg.kit.database import Database
from popreg.sync.events_models import EventDelivery, OutboxEvent
from sharing_builders import TEST_KEY, admin_headers


def _dispatch(database: Database, folder: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "POPREG_PROFILE": "test",
        "POPREG_DATABASE_URL": database.url,
        "POPREG_SECRET_KEY": TEST_KEY,
        "POPREG_PIN_KEY": TEST_KEY,
        "POPREG_EVENTS_WEBHOOK_TIMEOUT_SECONDS": "2",
        "POPREG_EVENTS_POLL_SECONDS": "0.2",
    }
    return subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "popreg", "events", "dispatch"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _undelivered(database: Database) -> int:
    with database.unit_of_work() as session:
        query = select(func.count()).select_from(EventDelivery).where(EventDelivery.status != "delivered")
        return int(session.execute(query).scalar_one())


def test_every_event_committed_before_a_kill_arrives_at_least_once_in_order(
    client: TestClient, database: Database, tmp_path: Path
):
    admin = admin_headers(client, database)
    receiver = Receiver(hold=threading.Event()).start()
    try:
        receiver.secret = subscribe(client, admin, receiver.url)["secret"]
        pins = [register_person(client, admin, full_name=f"Hồ Văn {name}") for name in ("An", "Bình", "Cường")]
        for pin in pins:
            rename(client, admin, pin, "Hồ Văn Đổi")
        with database.unit_of_work() as session:
            committed = {
                row.event_id: (row.pin, row.sequence) for row in session.execute(select(OutboxEvent)).scalars()
            }
        assert len(committed) == 9

        first = _dispatch(database, tmp_path)
        assert receiver.arrived.wait(60), "the dispatcher sent nothing"
        first.send_signal(signal.SIGKILL)  # while the subscriber holds the first request
        first.wait(30)
        assert receiver.hold is not None
        receiver.hold.set()

        second = _dispatch(database, tmp_path)
        try:
            deadline = time.monotonic() + 90
            while _undelivered(database) and time.monotonic() < deadline:
                time.sleep(0.3)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
    finally:
        receiver.stop()

    assert _undelivered(database) == 0
    received = [(event["id"], event["pin"], event["sequence"]) for event in receiver.received]
    assert {event_id for event_id, _, _ in received} == set(committed)
    assert len(received) == len(committed) + 1, "the event in flight at the kill was sent again"
    for pin in pins:
        first_arrivals: list[int] = []
        for _, event_pin, sequence in received:
            if event_pin == pin and sequence not in first_arrivals:
                first_arrivals.append(sequence)
        assert first_arrivals == [1, 2, 3]
