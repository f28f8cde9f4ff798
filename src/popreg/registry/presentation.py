"""How the register reads to an official: codes in words, units by name, and the history timeline.

The register stores codes (sex ``F``, ethnic group ``01``, commune ``00004``) and history events as
``{field: [before, after]}``; the console shows them in the official's language, without changing
what they say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from popreg.registry.reference import get_ethnic_group, get_religion
from popreg.registry.schemas import EventRead, HistoryRead
from popreg.web.i18n import Translator
from popreg.web.templating import format_date, format_partial_date, unit_label

# Derived from the full name or shown with the date of birth: not repeated in the timeline.
HIDDEN_IN_TIMELINE = frozenset({"family_name", "middle_name", "given_name", "birth_date_precision"})
UNIT_FIELDS = {"birth_registration_unit_code": None, "origin_unit_code": "origin_unit_generation"}
# Fields whose form label ("... (commune code)") reads wrong for a stored value.
TIMELINE_LABELS = {"birth_registration_unit_code": "person.birth_registration", "origin_unit_code": "person.origin"}
EMPTY = "—"


@dataclass(frozen=True, slots=True)
class ChangeLine:
    label: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of a person's history as the timeline shows it."""

    title: str
    event_type: str
    effective_date: date
    recorded_at: datetime
    legal_basis: str
    actor: str
    agency: str
    changes: list[ChangeLine]


class Presenter:
    """Register values in the words of one language."""

    def __init__(self, t: Translator) -> None:
        self.t = t

    def _word(self, prefix: str, value: object) -> str:
        key = f"{prefix}.{getattr(value, 'value', value)}"
        return self.t(key) if self.t.has(key) else str(getattr(value, "value", value))

    def sex(self, value: object) -> str:
        return self._word("sex", value)

    def life_status(self, value: object) -> str:
        return self._word("life_status", value)

    def residence_kind(self, value: object) -> str:
        return self._word("residence_kind", value)

    def relation(self, value: object) -> str:
        return self._word("relation", value)

    def household_relationship(self, value: object) -> str:
        return self._word("household_relationship", value)

    def ethnicity(self, code: str | None) -> str:
        group = get_ethnic_group(code) if code else None
        if group is None:
            return code or EMPTY
        return group.name_en if self.t.language == "en" else group.name

    def religion(self, code: str | None) -> str:
        religion = get_religion(code) if code else None
        if religion is None:
            return code or EMPTY
        return religion.name_en if self.t.language == "en" else religion.name

    def nationality(self, code: str | None) -> str:
        if not code:
            return EMPTY
        key = f"nationality.{code}"
        return f"{self.t(key)} ({code})" if self.t.has(key) else code

    def unit(self, code: str | None, generation: str | None = None) -> str:
        if not code:
            return EMPTY
        return unit_label(code, generation or "2025")

    def birth_date(self, text: str, precision: object = "day") -> str:
        shown = format_partial_date(text, self.t.language)
        precision_value = getattr(precision, "value", precision)
        if precision_value in ("month", "year"):
            return f"{shown} ({self.t(f'person.precision_{precision_value}')})"
        return shown

    def date(self, value: date | str | None) -> str:
        return format_date(value, self.t.language) or EMPTY

    def agency(self, source: str) -> str:
        """``police:00004`` is the police of that commune, ``police:national`` the ministry."""
        kind, _, unit_code = source.partition(":")
        if kind == "police" and unit_code == "national":
            return self.t("agency.national")
        if kind == "police" and unit_code:
            return self.t("agency.police", unit=unit_label(unit_code).split(",")[0])
        return source

    def actor(self, actor: str) -> str:
        kind, _, name = actor.partition(":")
        return self.t("actor.official", username=name) if kind == "official" and name else actor

    def event_title(self, event_type: str) -> str:
        key = f"event.{event_type}"
        return self.t(key) if self.t.has(key) else event_type

    # -- the history timeline ---------------------------------------------------------------------

    def timeline(self, history: HistoryRead) -> list[TimelineEntry]:
        """The events of a person's history, newest first."""
        return [self._entry(event) for event in reversed(history.events)]

    def _entry(self, event: EventRead) -> TimelineEntry:
        lines = []
        for key, change in event.changes.items():
            if key in HIDDEN_IN_TIMELINE or not isinstance(change, list) or len(change) != 2:
                continue
            before, after = change
            if before is None and after is None:
                continue
            collection, _, item = key.partition(".")
            label_key = collection if item else key
            label = self.t(TIMELINE_LABELS[label_key]) if label_key in TIMELINE_LABELS else self.t.label(label_key)
            lines.append(
                ChangeLine(
                    label=label,
                    before=self._value(label_key, before, event.changes, side=0),
                    after=self._value(label_key, after, event.changes, side=1),
                )
            )
        return TimelineEntry(
            title=self.event_title(event.event_type),
            event_type=event.event_type,
            effective_date=event.effective_date,
            recorded_at=event.recorded_at,
            legal_basis=event.legal_basis,
            actor=self.actor(event.actor),
            agency=self.agency(event.source_agency),
            changes=lines,
        )

    def _value(self, field: str, value: Any, changes: dict[str, Any], *, side: int) -> str:
        """One side (0 before, 1 after) of a change; a date of birth and a unit code are read with the
        precision and the units list recorded on the same side of the same event."""
        if value is None or value == "":
            return EMPTY
        if isinstance(value, dict):
            return self._record(field, value)
        text = str(value)
        if field == "sex":
            return self.sex(text)
        if field == "life_status":
            return self.life_status(text)
        if field == "ethnicity_code":
            return self.ethnicity(text)
        if field == "religion_code":
            return self.religion(text)
        if field == "nationality":
            return self.nationality(text)
        if field == "birth_date":
            return self._birth_date(text, _side(changes, "birth_date_precision", side))
        if field in ("life_status_date", "valid_from", "valid_to"):
            return self.date(text)
        if field in UNIT_FIELDS:
            generation_field = UNIT_FIELDS[field]
            generation = _side(changes, generation_field, side) if generation_field else None
            return self.unit(text, generation if isinstance(generation, str) else None)
        if field == "origin_unit_generation":
            return self.t(f"generation.{text}") if self.t.has(f"generation.{text}") else text
        return text

    def _birth_date(self, text: str, precision: Any) -> str:
        """A date of birth is stored as a full date with a precision; show it as precise as known."""
        if precision == "year":
            return text[:4]
        if precision == "month":
            return format_partial_date(text[:7], self.t.language)
        return self.date(text)

    def _record(self, collection: str, record: dict[str, Any]) -> str:
        """A residence, relation or household membership recorded inside an event, in one line."""
        if collection == "residences":
            text = self.t(
                "timeline.residence",
                kind=self.residence_kind(record.get("kind")),
                address=record.get("address_line", ""),
                unit=self.unit(record.get("unit_code"), record.get("unit_generation")),
            )
            return f"{text}, {self._period(record.get('valid_from'), record.get('valid_to'))}"
        if collection == "relations":
            return self.t(
                "timeline.relation",
                kind=self.relation(record.get("kind")),
                name=record.get("relative_name", ""),
                pin=record.get("relative_pin", ""),
            )
        if collection == "households":
            text = self.t(
                "timeline.household",
                number=record.get("number", ""),
                relationship=self.household_relationship(record.get("relationship_to_head")),
            )
            return f"{text}, {self._period(record.get('joined_on'), record.get('left_on'))}"
        if collection == "cards":
            return self._card(record)
        return ", ".join(f"{key}: {value}" for key, value in record.items())

    def _card(self, record: dict[str, Any]) -> str:
        """A card record of the cards package: its standing, kind, dates and reason in words."""
        status = {"produced": "not_issued", "issued": "valid"}.get(str(record.get("status")), record.get("status"))
        parts = [self._word("card.state", status), self._word("card.kind", record.get("application_kind"))]
        if record.get("date_of_issue"):
            parts.append(self.t("timeline.card_issued", date=self.date(record["date_of_issue"])))
        if record.get("status") != "cancelled" and record.get("date_of_issue"):
            expiry = record.get("expiry_date")
            parts.append(
                self.t("timeline.card_expiry", date=self.date(expiry) if expiry else self.t("card.indefinite"))
            )
        if record.get("cancel_reason"):
            parts.append(self._word("card.reason", record["cancel_reason"]))
        return ", ".join(part for part in parts if part)

    def _period(self, start: str | None, end: str | None) -> str:
        if end:
            return self.t("timeline.period_closed", start=self.date(start), end=self.date(end))
        return self.t("timeline.period_open", start=self.date(start))


def _side(changes: dict[str, Any], field: str, side: int) -> Any:
    change = changes.get(field)
    return change[side] if isinstance(change, list) and len(change) == 2 else None
