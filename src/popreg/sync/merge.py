"""The agencies' numbers of a record retired by a merge follow the person to the record kept.

A number another agency linked to the retired record (social insurance, health-insurance card, tax
code, driving licence) was given to the same human, so, in the merge's own transaction:

* the surviving record takes it when it holds no number of that scheme;
* when the surviving record holds another number of the scheme, its own stays and the retired
  record's is **released**: no record holds it any more, so the agency that gave it can link it again
  to whoever holds it;
* the retired record keeps none, so an agency's update for the surviving PIN is never queued because
  the retired (frozen) record still holds its number (``SYNC_IDENTIFIER_HELD_BY_OTHER``).

A moved number keeps its source and dates: the merge relinks it, it does not set it. Each record's
history gets one event with the numbers it lost (``person.identifiers_unlinked``) or took over
(``person.identifiers_linked``, as an agency's update writes it), citing the merge's legal basis and
official; the outbox tells subscribers, as for every history event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from popreg.kit.events import PersonsMerged
from popreg.officials import service as officials
from popreg.registry import service as registry
from popreg.sync.models import PersonIdentifier
from popreg.sync.rules import IDENTIFIER_SCHEMES


def carry_identifiers_to_survivor(session: Session, event: PersonsMerged) -> None:
    """Move or release the retired record's identifiers (see the module's docstring). The handler of
    :class:`PersonsMerged`."""
    retired = registry.get_person_record(session, pin=event.retired_pin)
    surviving = registry.get_person_record(session, pin=event.surviving_pin)
    rows = session.execute(
        select(PersonIdentifier).where(PersonIdentifier.person_id.in_((retired.id, surviving.id)))
    ).scalars()
    held: dict[str, PersonIdentifier] = {}
    kept: set[str] = set()
    for row in rows:
        if row.person_id == retired.id:
            held[row.scheme] = row
        else:
            kept.add(row.scheme)
    unlinked: dict[str, list[Any]] = {}
    linked: dict[str, list[Any]] = {}
    for scheme in (scheme for scheme in IDENTIFIER_SCHEMES if scheme in held):
        identifier, key = held[scheme], f"identifiers.{scheme}"
        unlinked[key] = [identifier.value, None]
        if scheme in kept:
            session.delete(identifier)
        else:
            identifier.person_id = surviving.id
            linked[key] = [None, identifier.value]
    if not unlinked:
        return
    session.flush()
    principal = officials.principal_of_actor(session, actor=event.actor)
    for pin, event_type, changes in (
        (retired.pin, "person.identifiers_unlinked", unlinked),
        (surviving.pin, "person.identifiers_linked", linked),
    ):
        if changes:
            registry.record_history(
                session,
                principal=principal,
                pin=pin,
                event_type=event_type,
                changes=changes,
                legal_basis=event.legal_basis,
                effective_date=event.date,
            )
