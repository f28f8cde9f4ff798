"""Publishing events to NATS JetStream (when ``POPREG_NATS_URL`` is set).

Events go to the stream ``POPREG_NATS_STREAM`` (created on first use, subjects ``<prefix>.>``) on the
subject ``<prefix>.<type>`` (``popreg.events.person.died``). The event id is the ``Nats-Msg-Id``
header, so JetStream stores an event the dispatcher sends again (after a crash) only once, within the
stream's duplicate window (one day).
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

DUPLICATE_WINDOW_SECONDS = 86_400.0


class NatsPublisher:
    """A connection to NATS used by one dispatcher thread; nats-py is asynchronous, so the publisher
    keeps its own event loop and runs each call to completion."""

    def __init__(self, url: str, *, stream: str, subject_prefix: str, timeout: float = 5.0) -> None:
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._client: Any = None
        self._jetstream: Any = None

    def subject(self, event_type: str) -> str:
        return f"{self.subject_prefix}.{event_type}"

    async def _connect(self) -> Any:
        if self._jetstream is None:
            self._client = await nats.connect(
                self.url, connect_timeout=self.timeout, max_reconnect_attempts=2, allow_reconnect=True
            )
            jetstream = self._client.jetstream(timeout=self.timeout)
            try:
                await jetstream.stream_info(self.stream)
            except NotFoundError:
                await jetstream.add_stream(
                    StreamConfig(
                        name=self.stream,
                        subjects=[f"{self.subject_prefix}.>"],
                        duplicate_window=DUPLICATE_WINDOW_SECONDS,
                    )
                )
            self._jetstream = jetstream
        return self._jetstream

    async def _publish(self, event_type: str, body: bytes, event_id: str) -> bool:
        jetstream = await self._connect()
        ack = await jetstream.publish(
            self.subject(event_type), body, timeout=self.timeout, headers={"Nats-Msg-Id": event_id}
        )
        return bool(ack.duplicate)

    def publish(self, event_type: str, body: bytes, event_id: str) -> bool:
        """Publish one event and wait for JetStream's acknowledgement; return whether JetStream had it
        already (a re-send). Raises when the server does not acknowledge: the delivery is retried."""
        try:
            return self._loop.run_until_complete(self._publish(event_type, body, event_id))
        except Exception:
            self._reset()
            raise

    def _reset(self) -> None:
        client, self._client, self._jetstream = self._client, None, None
        if client is not None:
            try:
                self._loop.run_until_complete(client.close())
            except Exception:  # noqa: BLE001, S110 - a broken connection is dropped either way
                pass

    def close(self) -> None:
        self._reset()
        self._loop.close()
