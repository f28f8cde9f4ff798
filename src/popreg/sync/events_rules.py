"""Rules of outbound change events, without a database: event types, payloads filtered to a
subscriber's fields, what a partner's policy lets its subscribers receive, webhook addresses, back-off
between attempts, and Standard Webhooks signatures.

A PIN is a person's 12-digit personal identification number; every event names the person by it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from popreg.kit.errors import InvalidInput
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
EVENTS_OPERATION: Final = "events"
"""The operation of a partner's policy that lets it subscribe to change events."""
AGENCY: Final = "agency"

# What each attribute a partner may read (its policy's ``read_fields``) lets it receive in events. A
# name's parts are the name, and a date of birth is read with its precision. The permanent address
# and commune let a partner receive nothing here: a residence's event carries the whole residence
# record (temporary ones too, with dates and household), more than those two attributes.
_EVENT_FIELDS_OF_READ_FIELD: Final[Mapping[str, tuple[str, ...]]] = {
    "full_name": ("full_name", "family_name", "middle_name", "given_name"),
    "birth_date": ("birth_date", "birth_date_precision"),
    "sex": ("sex",),
    "ethnicity_code": ("ethnicity_code",),
    "religion_code": ("religion_code",),
    "nationality": ("nationality",),
    "life_status": ("life_status",),
    "life_status_date": ("life_status_date",),
}


def public_event_type(history_type: str) -> str:
    """The type a subscriber sees for a history event (``residence.permanent_registered`` ->
    ``residence.changed``); a type without a rule is passed through unchanged."""
    if history_type in _RENAMED:
        return _RENAMED[history_type]
    for prefix, public in _GROUPED.items():
        if history_type.startswith(prefix):
            return public
    return history_type


@dataclass(frozen=True, slots=True)
class PartnerAllowance:
    """What a partner's status and policy let its subscribers receive now.

    While ``waiting`` says why (the partner is suspended, is not an agency, or its policy lacks the
    ``events`` operation) its deliveries wait: they are neither dropped nor dead-lettered, and go out
    once it is allowed again. ``fields`` bounds the fields delivered, whatever was requested.
    """

    fields: frozenset[str]
    waiting: str | None = None

    @property
    def receiving(self) -> bool:
        return self.waiting is None


def partner_event_fields(read_fields: Iterable[str]) -> frozenset[str]:
    """The event fields a partner allowed to read ``read_fields`` may receive."""
    return frozenset(field for name in read_fields for field in _EVENT_FIELDS_OF_READ_FIELD.get(name, ()))


def partner_allowance(
    *, status: str, kind: str, operations: Iterable[str], read_fields: Iterable[str]
) -> PartnerAllowance:
    """A partner's allowance. Only an agency may receive events: a business reads a person's data only
    with that person's consent, given for one purpose, which a stream of every change cannot honour."""
    waiting = None
    if status != "active":
        waiting = "The partner is suspended."
    elif kind != AGENCY:
        waiting = "The partner is not an agency."
    elif EVENTS_OPERATION not in set(operations):
        waiting = f"The partner's policy does not allow the operation '{EVENTS_OPERATION}'."
    return PartnerAllowance(fields=partner_event_fields(read_fields), waiting=waiting)


def check_webhook_url(url: str, *, public_https: bool) -> None:
    """A webhook is an absolute http(s) URL. With ``public_https`` (a partner's webhook outside the
    development profile) it must be https and must not name this machine or a private network by
    address (``localhost``, ``10.x``, ``192.168.x``, link-local...): the dispatcher, inside the
    platform's network, must not be made to call internal services."""
    parts = urlsplit(url)
    try:
        host, _port = parts.hostname, parts.port  # the port raises when it is not a number in range
    except ValueError:
        host = None
    if parts.scheme not in ("https", "http") or not host or any(ch.isspace() for ch in url):
        raise InvalidInput(
            "The webhook must be an absolute http(s) URL.", code="EVENT_WEBHOOK_URL_INVALID", details={"field": "url"}
        )
    if not public_https:
        return
    if parts.scheme != "https":
        raise InvalidInput(
            "A partner's webhook must use https (http is accepted only in the development profile).",
            code="EVENT_WEBHOOK_HTTPS_REQUIRED",
            details={"field": "url"},
        )
    host = host.rstrip(".")
    address = _address(host)
    if host == "localhost" or host.endswith(".localhost") or (address is not None and not address.is_global):
        raise InvalidInput(
            "A partner's webhook must be reachable on the internet, not on this machine or a private network.",
            code="EVENT_WEBHOOK_URL_NOT_PUBLIC",
            details={"field": "url"},
        )


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a host names literally, in any form a resolver accepts (``127.1``, ``2130706433``
    and ``0x7f.0.0.1`` are all 127.0.0.1), or None for a domain name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


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
