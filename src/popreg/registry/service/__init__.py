"""Use cases of the national population register.

Each function checks the official's role and jurisdiction, applies the civil-status rules, writes the
change and its history event in the caller's transaction (flush, never commit), and records every
read of a person in the access log.
"""

from popreg.registry.service.common import (
    DEFAULT_PURPOSE,
    person_places,
    record_history,
    resolve_place,
)
from popreg.registry.service.history import as_of, history
from popreg.registry.service.households import (
    add_household_member,
    create_household,
    get_household,
    leave_household,
)
from popreg.registry.service.merge import merge_persons, pins_of_same_person, surviving_pin_of
from popreg.registry.service.persons import (
    add_relation,
    get_person,
    get_person_record,
    issue_pin,
    person_view,
    person_view_by_id,
    register_person,
    search_persons,
    set_life_status,
    update_person,
)
from popreg.registry.service.provenance import READABLE_FIELDS, Provenanced, field_provenance
from popreg.registry.service.residences import end_residence, register_residence

__all__ = [
    "DEFAULT_PURPOSE",
    "READABLE_FIELDS",
    "Provenanced",
    "add_household_member",
    "add_relation",
    "as_of",
    "create_household",
    "end_residence",
    "field_provenance",
    "get_household",
    "get_person",
    "get_person_record",
    "history",
    "issue_pin",
    "leave_household",
    "merge_persons",
    "person_places",
    "person_view",
    "person_view_by_id",
    "pins_of_same_person",
    "record_history",
    "register_person",
    "register_residence",
    "resolve_place",
    "search_persons",
    "set_life_status",
    "surviving_pin_of",
    "update_person",
]
