"""The one place where packages subscribe to each other's domain events (see ``kit.events``).

``configure()`` is called by the application factory and the CLI before any work is done; it is
idempotent.
"""

from __future__ import annotations

from popreg.cards.service import cancel_cards_at_death, cancel_cards_of_retired_record
from popreg.kit import events
from popreg.kit.events import PersonChanged, PersonDied, PersonsChanged, PersonsImported, PersonsMerged
from popreg.matching.review import close_candidates_of_retired
from popreg.sync import outbox
from popreg.sync.merge import carry_identifiers_to_survivor


def configure() -> None:
    """Subscribe every package's handlers."""
    # A death cancels the person's identity card, in the same transaction as the death.
    events.subscribe(PersonDied, cancel_cards_at_death)
    # A duplicate record retired by a merge loses its cards (they carry the retired PIN).
    events.subscribe(PersonsMerged, cancel_cards_of_retired_record)
    # ... and its open duplicate candidates close as merged, whatever way it was merged.
    events.subscribe(PersonsMerged, close_candidates_of_retired)
    # ... and the numbers other agencies linked to it follow the person to the record kept.
    events.subscribe(PersonsMerged, carry_identifiers_to_survivor)
    # Every change of a person (and every imported person) gets its outbox row in the change's transaction.
    events.subscribe(PersonChanged, outbox.record_change)
    events.subscribe(PersonsChanged, outbox.record_changes)
    events.subscribe(PersonsImported, outbox.record_import)
