"""Imports every package's tables so that the metadata (and Alembic) sees all of them."""

import popreg.matching.models  # noqa: F401 - duplicate-detection runs and clusters
import popreg.quality.models  # noqa: F401 - data-quality snapshots, figures, last verification per person
import popreg.registry.merge_models  # noqa: F401 - merged duplicate persons (retired PIN -> surviving)
import popreg.sharing.bulk_models  # noqa: F401 - bulk verification jobs
import popreg.sharing.consent_models  # noqa: F401 - citizens' consents to share with a partner
import popreg.sharing.models  # noqa: F401 - partners, policies, keys, used assertions, usage
import popreg.sync.events_models  # noqa: F401 - outbound events: outbox, subscribers, deliveries
import popreg.sync.file_jobs_models  # noqa: F401 - agencies' uploaded sync files, run as jobs
import popreg.sync.models  # noqa: F401 - inbound sync updates, review queue, other agencies' identifiers
from popreg.audit.models import AccessLogEntry, AccessLogHead
from popreg.cards.models import Card
from popreg.officials.models import Official, OfficialSession
from popreg.registry.models import (
    Household,
    HouseholdMember,
    ImportJob,
    ImportReject,
    Person,
    PersonEvent,
    PersonRelation,
    PinCounter,
    Residence,
)

__all__ = [
    "AccessLogEntry",
    "AccessLogHead",
    "Card",
    "Household",
    "HouseholdMember",
    "ImportJob",
    "ImportReject",
    "Official",
    "OfficialSession",
    "Person",
    "PersonEvent",
    "PersonRelation",
    "PinCounter",
    "Residence",
]
