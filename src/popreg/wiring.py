"""The one place where packages subscribe to each other's domain events (see ``kit.events``).

``configure()`` is called by the application factory and the CLI before any work is done; it is
idempotent. Handlers are named, not imported: each is imported when its event is first published.
"""

from __future__ import annotations

from popreg.kit import events
from popreg.kit.events import PersonChanged, PersonDied, PersonsChanged, PersonsImported, PersonsMerged


def configure() -> None:
    """Subscribe every package's handlers."""
    # A death cancels the person's identity card, in the same transaction as the death.
    events.subscribe(PersonDied, "popreg.cards.service:cancel_cards_at_death")
    # A duplicate record retired by a merge loses its cards (they carry the retired PIN).
    events.subscribe(PersonsMerged, "popreg.cards.service:cancel_cards_of_retired_record")
    # ... and its open duplicate candidates close as merged, whatever way it was merged.
    events.subscribe(PersonsMerged, "popreg.matching.review:close_candidates_of_retired")
    # ... and the numbers other agencies linked to it follow the person to the record kept.
    events.subscribe(PersonsMerged, "popreg.sync.merge:carry_identifiers_to_survivor")
    # Every change of a person (and every imported person) gets its outbox row in the change's transaction.
    events.subscribe(PersonChanged, "popreg.sync.outbox:record_change")
    events.subscribe(PersonsChanged, "popreg.sync.outbox:record_changes")
    events.subscribe(PersonsImported, "popreg.sync.outbox:record_import")
