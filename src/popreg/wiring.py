"""The one place where packages subscribe to each other's domain events (see ``kit.events``).

``configure()`` is called by the application factory and the CLI before any work is done; it is
idempotent.
"""

from __future__ import annotations

from popreg.cards.service import cancel_cards_at_death
from popreg.kit import events
from popreg.kit.events import PersonDied


def configure() -> None:
    """Subscribe every package's handlers."""
    # A death cancels the person's identity card, in the same transaction as the death.
    events.subscribe(PersonDied, cancel_cards_at_death)
