"""Rules of outbound change events, without a database: event types, payloads filtered to a
subscriber's fields, back-off between attempts, and Standard Webhooks signatures.

A PIN is a person's 12-digit personal identification number; every event names the person by it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from popreg.registry.rules import PERSON_FIELDS

# The register's history types are many and fine-grained; subscribers get a few stable ones.
_RENAMED = {
    "person.imported": "person.registered",
    "person.changed": "person.updated",
}
_GROUPED = {
    "residence.": "residence.changed",
    "household.": "household.changed",
    "relation.": "relation.added",
}
EVENT_TYPES = (
    "person.registered",
    "person.updated",
    "person.died",
    "person.declared_dead",
    "person.declared_missing",
    "person.declaration_annulled",
    "residence.changed",
    "household.changed",
    "relation.added",
    "card.applied",
    "card.produced",
    "card.issued",
    "card.cancelled",
)
ALL_TYPES = "*"
# Sub-records appear in changes as ``<group>.<id>``; a subscriber allowed the group gets them all.
RECORD_GROUPS = ("residences", "households", "relations", "cards")
SUBSCRIBABLE_FIELDS = tuple(field for field in PERSON_FIELDS if field != "pin") + RECORD_GROUPS
SUBSCRIBER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks marker of a secret, not a secret


def public_event_type(history_type: str) -> str:
    """The type a subscriber sees for a history event (``residence.permanent_registered`` ->
    ``residence.changed``); a type without a rule is passed through unchanged."""
    if history_type in _RENAMED:
        return _RENAMED[history_type]
    for prefix, public in _GROUPED.items():
        if history_type.startswith(prefix):
            return public
    return history_type


def allowed(field: str, fields: frozenset[str]) -> bool:
    """Whether a changed field (``full_name``, ``residences.17``) is within a subscriber's fields."""
    return field.split(".", 1)[0] in fields


def new_values(changes: Mapping[str, list[Any]], fields: frozenset[str]) -> dict[str, Any]:
    """The new value of each changed field the subscriber may receive (``None`` when removed)."""
    return {field: pair[1] for field, pair in changes.items() if allowed(field, fields)}


def event_payload(
    *,
    event_id: str,
    event_type: str,
    history_type: str,
    pin: str,
    sequence: int,
    changes: Mapping[str, list[Any]],
    effective_date: date,
    occurred_at: datetime,
    source_agency: str,
    fields: frozenset[str],
) -> dict[str, Any]:
    """The body a subscriber receives; ``changes`` holds only the fields its policy allows."""
    return {
        "id": event_id,
        "type": event_type,
        "history_type": history_type,
        "pin": pin,
        "sequence": sequence,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "effective_date": effective_date.isoformat(),
        "source_agency": source_agency,
        "changes": new_values(changes, fields),
    }


def retry_delay(attempts: int, *, base_seconds: float, max_seconds: float, jitter: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: doubling from ``base_seconds`` up to
    ``max_seconds``, then scaled by ``jitter`` in [0, 1) into its upper half, so that subscribers
    recovering together are not hit by every dispatcher at the same instant."""
    doublings = max(0, min(attempts - 1, 40))
    ceiling = min(max_seconds, base_seconds * float(2**doublings))
    return float(ceiling * (0.5 + jitter / 2))


def new_secret() -> str:
    """A webhook secret in the Standard Webhooks form: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def signature_valid(*, secret: str, message_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether one of the space-separated signatures of a ``webhook-signature`` header is ours."""
    expected = sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())
