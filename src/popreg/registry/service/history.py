"""A person's history and the register's answer for a past date."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from popreg.kit.clock import end_of_day_utc
from popreg.kit.errors import InvalidInput
from popreg.officials.rules import (
    OfficialPrincipal,
)
from popreg.registry import repository
from popreg.registry.rules import (
    replay,
)
from popreg.registry.schemas import (
    AsOfRead,
    EventRead,
    HistoryRead,
)
from popreg.registry.service.common import (
    DEFAULT_PURPOSE,
    load_for_reading,
)


def history(session: Session, *, principal: OfficialPrincipal, pin: str, purpose: str = DEFAULT_PURPOSE) -> HistoryRead:
    """Every recorded change of a person, oldest first."""
    person = load_for_reading(session, principal, pin, action="person.history", purpose=purpose)
    events = [
        EventRead.model_validate(event, from_attributes=True) for event in repository.events_of(session, person.id)
    ]
    return HistoryRead(pin=person.pin, events=events)


def as_of(
    session: Session,
    *,
    principal: OfficialPrincipal,
    pin: str,
    on: date,
    axis: str = "recorded",
    purpose: str = DEFAULT_PURPOSE,
) -> AsOfRead:
    """What the register said about a person at the end of day ``on`` (axis "recorded"), or what
    was in force on that day as known today (axis "effective")."""
    if axis not in ("recorded", "effective"):
        raise InvalidInput("axis is 'recorded' or 'effective'.", code="INPUT_INVALID", details={"field": "axis"})
    person = load_for_reading(session, principal, pin, action="person.as_of", purpose=purpose)
    if axis == "recorded":
        events = repository.events_of(session, person.id, recorded_until=end_of_day_utc(on))
    else:
        events = repository.events_of(session, person.id, effective_until=on)
    state = replay(event.changes for event in events) if events else {}
    return AsOfRead(pin=person.pin, date=on, axis=axis, existed=bool(events), state=state)
