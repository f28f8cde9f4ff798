"""In-process domain events: one package reacts to another's change in the same transaction.

A package announces a fact in the past tense (``PersonDied``) with :func:`publish`; another package
that must react (the cards package cancels the cards of a deceased person) subscribes a handler
in :mod:`popreg.wiring`. Handlers run synchronously inside the publisher's transaction, so either
both changes are stored or neither is. (Events for other systems go through the outbox instead.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class PersonDied:
    """A death (or a court's declaration of death) was recorded for a person."""

    pin: str
    date: date
    actor: str
    legal_basis: str


Handler = Callable[[Session, Any], None]
_handlers: defaultdict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type, handler: Handler) -> None:
    """Run ``handler(session, event)`` whenever an event of ``event_type`` is published (once each)."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(session: Session, event: object) -> None:
    for handler in _handlers[type(event)]:
        handler(session, event)
