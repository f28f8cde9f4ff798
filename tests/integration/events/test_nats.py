"""Publishing to the real NATS JetStream server, on SQLite and PostgreSQL: every event reaches the
stream in order per person with its event id as ``Nats-Msg-Id``, and a re-send after a crash (the
delivery not yet marked delivered) is stored only once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from integration.events.conftest import Clock, register_person, rename
from popreg.kit.database import Database
from popreg.kit.settings import Settings
from popreg.sync.dispatch import Dispatcher
from popreg.sync.events_models import EventDelivery


async def _stream_messages(url: str, stream: str, subjects: str) -> tuple[int, list[tuple[dict[str, Any], str]]]:
    client = await nats.connect(url)
    try:
        jetstream = client.jetstream()
        info = await jetstream.stream_info(stream)
        consumer = await jetstream.pull_subscribe(subjects, stream=stream)
        messages = await consumer.fetch(info.state.messages, timeout=5)
        for message in messages:
            await message.ack()
        return info.state.messages, [(json.loads(m.data), (m.headers or {}).get("Nats-Msg-Id", "")) for m in messages]
    finally:
        await client.close()


async def _delete_stream(url: str, stream: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(stream)
    finally:
        await client.close()


@pytest.fixture
def nats_settings(event_settings: Settings, nats_url: str) -> Iterator[Settings]:
    """A stream and subjects of this test's own, deleted afterwards."""
    suffix = uuid.uuid4().hex[:12]
    yield event_settings.model_copy(
        update={
            "nats_url": nats_url,
            "nats_stream": f"POPREG_TEST_{suffix}",
            "nats_subject_prefix": f"popregtest.{suffix}",
        }
    )
    asyncio.run(_delete_stream(nats_url, f"POPREG_TEST_{suffix}"))


def test_events_are_published_to_jetstream_once_even_when_sent_again(
    client: TestClient, database: Database, admin: dict[str, str], nats_settings: Settings, clock: Clock
):
    dispatcher = Dispatcher(database, nats_settings, clock=clock)
    try:
        pins = [register_person(client, admin), register_person(client, admin, full_name="Đỗ Văn Bảo", sex="M")]
        rename(client, admin, pins[0], "Nguyễn Thị Minh Hạnh")
        assert dispatcher.run_until_idle() == 5  # two registrations with residences, one rename

        subjects = f"{nats_settings.nats_subject_prefix}.>"
        stored, messages = asyncio.run(
            _stream_messages(nats_settings.nats_url or "", nats_settings.nats_stream, subjects)
        )
        assert stored == 5
        assert all(event["id"] == message_id for event, message_id in messages)
        for pin in pins:
            assert [event["sequence"] for event, _ in messages if event["pin"] == pin] == (
                [1, 2, 3] if pin == pins[0] else [1, 2]
            )
        renamed = next(event for event, _ in messages if event["type"] == "person.updated")
        assert renamed["changes"] == {"full_name": "Nguyễn Thị Minh Hạnh", "given_name": "Hạnh"}

        # A dispatcher that died after publishing, before recording it: the events are sent again.
        with database.unit_of_work() as session:
            session.execute(update(EventDelivery).values(status="pending", delivered_at=None))
        assert dispatcher.run_until_idle() == 5
        stored_again, _ = asyncio.run(
            _stream_messages(nats_settings.nats_url or "", nats_settings.nats_stream, subjects)
        )
        assert stored_again == 5, "JetStream deduplicated the re-sent events by their Nats-Msg-Id"
    finally:
        dispatcher.close()
