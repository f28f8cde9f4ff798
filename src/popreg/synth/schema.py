"""Arrow schemas of the synthetic tables, named and typed as the register's tables
(``popreg.registry.models``) so that an importer can load them column for column.

Identifiers are those of the register (``person_id`` is the ``persons.id`` of that person).
Dates are ``date32``; a date of birth known only to the month or the year is stored as the first
day of that month or year, with ``birth_date_precision`` saying which.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def _schema(*fields: pa.Field[Any]) -> pa.Schema:
    return pa.schema(fields)


PERSONS = _schema(
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("pin", pa.string(), nullable=False),
    pa.field("full_name", pa.string(), nullable=False),
    pa.field("name_folded", pa.string(), nullable=False),
    pa.field("family_name", pa.string(), nullable=False),
    pa.field("middle_name", pa.string(), nullable=False),
    pa.field("given_name", pa.string(), nullable=False),
    pa.field("birth_date", pa.date32(), nullable=False),
    pa.field("birth_date_precision", pa.string(), nullable=False),
    pa.field("sex", pa.string(), nullable=False),
    pa.field("ethnicity_code", pa.string(), nullable=False),
    pa.field("religion_code", pa.string(), nullable=False),
    pa.field("nationality", pa.string(), nullable=False),
    pa.field("birth_registration_code", pa.string(), nullable=False),
    pa.field("birth_registration_unit_code", pa.string()),
    pa.field("origin_unit_code", pa.string()),
    pa.field("origin_unit_generation", pa.string()),
    pa.field("life_status", pa.string(), nullable=False),
    pa.field("life_status_date", pa.date32()),
)

HOUSEHOLDS = _schema(
    pa.field("household_id", pa.int64(), nullable=False),
    pa.field("number", pa.string(), nullable=False),
    pa.field("head_person_id", pa.int64(), nullable=False),
    pa.field("address_line", pa.string(), nullable=False),
    pa.field("unit_code", pa.string(), nullable=False),
    pa.field("unit_generation", pa.string(), nullable=False),
    pa.field("commune_code", pa.string(), nullable=False),
    pa.field("province_code", pa.string(), nullable=False),
)

HOUSEHOLD_MEMBERS = _schema(
    pa.field("household_id", pa.int64(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("relationship_to_head", pa.string(), nullable=False),
    pa.field("joined_on", pa.date32(), nullable=False),
)

RESIDENCES = _schema(
    pa.field("residence_id", pa.int64(), nullable=False),
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("address_line", pa.string(), nullable=False),
    pa.field("unit_code", pa.string(), nullable=False),
    pa.field("unit_generation", pa.string(), nullable=False),
    pa.field("commune_code", pa.string(), nullable=False),
    pa.field("province_code", pa.string(), nullable=False),
    pa.field("household_id", pa.int64()),
    pa.field("valid_from", pa.date32(), nullable=False),
    pa.field("valid_to", pa.date32()),
)

RELATIONS = _schema(
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("relative_id", pa.int64(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
)

TRUTH = _schema(
    pa.field("record_id", pa.int64(), nullable=False),
    pa.field("entity_id", pa.int64(), nullable=False),
    pa.field("defect", pa.string()),
)

TABLES: dict[str, pa.Schema] = {
    "persons": PERSONS,
    "households": HOUSEHOLDS,
    "household_members": HOUSEHOLD_MEMBERS,
    "residences": RESIDENCES,
    "relations": RELATIONS,
    "truth": TRUTH,
}
"""Every table of a synthetic population, by name, in the order they are written."""
