"""In-process domain events: one package reacts to another's change in the same transaction.

A package announces a fact in the past tense (``PersonDied``) with :func:`publish`; another package
that must react (the cards package cancels the cards of a deceased person) subscribes a handler
in :mod:`popreg.wiring`. Handlers run synchronously inside the publisher's transaction, so either
both changes are stored or neither is. (Events for other systems go through the outbox instead.)
"""

from __future__ import annotations

import functools
import importlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class PersonDied:
    """A death (or a court's declaration of death) was recorded for a person."""

    pin: str
    date: date
    actor: str
    legal_basis: str


@dataclass(frozen=True, slots=True)
class PersonChanged:
    """A change was written into a person's history (``person_events``): published by the register for
    every history event, so that other systems hear of it (the ``sync`` outbox subscribes).

    ``event_type`` is the history's own type (``person.changed``, ``residence.permanent_registered``,
    ``card.issued``...); ``changes`` maps each field to ``[before, after]``.
    """

    person_id: int
    pin: str
    event_type: str
    changes: dict[str, list[Any]]
    effective_date: date
    source_agency: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class PersonsChanged:
    """Many history events written at once by a batch writer (``registry.service.record_events``),
    already in ``person_events``: one publication for the batch, so that subscribers can work set-based."""

    changes: tuple[PersonChanged, ...]


@dataclass(frozen=True, slots=True)
class PersonsImported:
    """A bulk import wrote new persons and their ``person.imported`` history events set-based: the
    persons with ids ``first_person_id..last_person_id`` whose events carry ``actor``."""

    first_person_id: int
    last_person_id: int
    actor: str


@dataclass(frozen=True, slots=True)
class PersonsMerged:
    """A duplicate record (``retired_pin``) was merged into the record kept (``surviving_pin``)."""

    retired_pin: str
    surviving_pin: str
    date: date
    actor: str
    legal_basis: str


Handler = Callable[[Session, Any], None]
_handlers: defaultdict[type, list[Handler | str]] = defaultdict(list)


def subscribe(event_type: type, handler: Handler | str) -> None:
    """Run ``handler(session, event)`` whenever an event of ``event_type`` is published (once each).

    ``handler`` may be named as ``"package.module:function"``: it is imported when such an event is
    first published, so that a process pays only for the packages its work reaches."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


@functools.cache
def resolve(name: str) -> Handler:
    """The handler named ``"package.module:function"``."""
    module, _, attribute = name.partition(":")
    handler: Handler = getattr(importlib.import_module(module), attribute)
    return handler


def handlers_of(event_type: type) -> list[Handler]:
    return [resolve(h) if isinstance(h, str) else h for h in _handlers[event_type]]


def publish(session: Session, event: object) -> None:
    for handler in _handlers[type(event)]:
        (resolve(handler) if isinstance(handler, str) else handler)(session, event)
