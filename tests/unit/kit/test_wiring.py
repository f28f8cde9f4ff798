"""The wiring names its handlers as strings; every name must resolve to a callable, and wiring
twice must not subscribe anything twice."""

from __future__ import annotations

import pytest

from popreg.kit import events
from popreg.kit.events import PersonChanged, PersonDied, PersonsChanged, PersonsImported, PersonsMerged
from popreg.wiring import configure

WIRED = (PersonChanged, PersonDied, PersonsChanged, PersonsImported, PersonsMerged)


def test_every_named_handler_resolves_to_a_function():
    configure()
    for event_type in WIRED:
        handlers = events.handlers_of(event_type)
        assert handlers, event_type.__name__
        assert all(callable(handler) for handler in handlers)


def test_configuring_twice_subscribes_each_handler_once():
    configure()
    before = {event_type: len(events.handlers_of(event_type)) for event_type in WIRED}
    configure()
    assert {event_type: len(events.handlers_of(event_type)) for event_type in WIRED} == before


def test_a_misspelt_handler_name_fails_loudly():
    with pytest.raises(AttributeError):
        events.resolve("popreg.sync.outbox:no_such_handler")
