"""What a console form says when it is refused: each problem next to its field, all of them in a summary.

A refusal comes either from the shape of the input (a pydantic ``ValidationError``: a missing name,
a malformed code) or from a rule of the register (a :class:`DomainError` whose ``details["field"]``
names the field, when there is one). Both become :class:`FormErrors` in the official's language.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.orm import Session

from popreg.kit.errors import DomainError
from popreg.web.i18n import Translator

# pydantic error types -> message keys of the catalogue
_INPUT_MESSAGES = {
    "missing": "input.missing",
    "string_too_short": "input.too_short",
    "string_too_long": "input.too_long",
    "enum": "input.choice",
    "literal_error": "input.choice",
    "string_pattern_mismatch": "input.pattern",
    "date_parsing": "input.date",
    "date_from_datetime_parsing": "input.date",
    "date_from_datetime_inexact": "input.date",
    "date_type": "input.date",
    "int_parsing": "input.number",
    "int_type": "input.number",
}
UNIT_CODE_FIELDS = frozenset({"unit_code", "residence_unit_code", "birth_registration_unit_code"})
CHOICE_FIELDS = frozenset(
    {"sex", "kind", "ethnicity_code", "religion_code", "unit_generation", "origin_unit_generation"}
)


class ConsoleForm(BaseModel):
    """A posted form as typed: every field is text, so nothing is lost before the service's schema
    reads it (surrounding spaces are dropped, fields the form does not have are ignored)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    def given(self, *names: str) -> dict[str, str]:
        """The named fields that were filled in (an empty field is "not given", not "empty text")."""
        values = self.model_dump()
        return {name: values[name] for name in names if values[name]}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One problem; ``field`` is the form field it belongs to, ``None`` for the whole form."""

    field: str | None
    message: str


@dataclass(slots=True)
class FormErrors:
    problems: list[FieldProblem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def of(self, name: str) -> str | None:
        """The problems of one field, joined, for the message under it."""
        messages = [problem.message for problem in self.problems if problem.field == name]
        return " ".join(messages) if messages else None

    @classmethod
    def from_error(
        cls,
        error: DomainError | ValidationError,
        t: Translator,
        *,
        fields: Collection[str],
        aliases: Mapping[str, str] | None = None,
    ) -> FormErrors:
        """The problems of a refused form.

        ``fields`` are the form's field names; ``aliases`` map the names the schema or the service
        uses (``permanent_residence.unit_code``, ``date``) to them. A problem of a field the form does
        not have is shown in the summary only.
        """
        aliases = aliases or {}

        def form_field(name: str | None) -> str | None:
            if name is None:
                return None
            name = aliases.get(name, name)
            return name if name in fields else None

        if isinstance(error, DomainError):
            named = error.details.get("field")
            return cls([FieldProblem(form_field(named if isinstance(named, str) else None), t.error(error))])
        problems = []
        for item in error.errors():
            path = ".".join(str(part) for part in item.get("loc", ()))
            target = form_field(path)
            problems.append(FieldProblem(target, input_problem(t, target or path, item["type"], item.get("ctx"))))
        return cls(problems)

    @classmethod
    def single(cls, field_name: str | None, message: str) -> FormErrors:
        return cls([FieldProblem(field_name, message)])


def input_problem(t: Translator, field_name: str, kind: str, context: Mapping[str, Any] | None) -> str:
    """A malformed value in words, naming the field as its label reads."""
    label = t.label(field_name)
    values: dict[str, Any] = {"label": label, "label_lower": label[:1].lower() + label[1:]}
    values.update(context or {})
    key = _INPUT_MESSAGES.get(kind, "input.invalid")
    if key == "input.pattern" and field_name in UNIT_CODE_FIELDS:
        key = "input.unit_code"
    if key == "input.too_short" and values.get("min_length") == 1:
        key = "input.missing"
    if key == "input.missing" and field_name in CHOICE_FIELDS:
        key = "input.missing_choice"
    try:
        return t(key, **values)
    except (KeyError, IndexError, ValueError):
        return t("input.invalid", label=label)


Outcome = TypeVar("Outcome")


@dataclass(frozen=True, slots=True)
class Refused:
    """A console form's change that the rules refused (or whose input did not validate)."""

    error: DomainError | ValidationError


def submit(session: Session, change: Callable[[], Outcome]) -> Outcome | Refused:
    """Apply a form's change in a savepoint: a refusal undoes only that change (the request's own
    writes, such as its access-log entries, still commit) and is returned for the page to show."""
    try:
        with session.begin_nested():
            return change()
    except (DomainError, ValidationError) as error:
        return Refused(error)


def raise_page_refusal(error: DomainError | ValidationError, refusals: Collection[str]) -> None:
    """A refusal about the page itself (an unknown person, a read-only role) is answered with an error
    page, not with the form again: ``refusals`` are the codes that are about the page of this form."""
    if isinstance(error, DomainError) and error.code in refusals:
        raise error


def status_of(error: DomainError | ValidationError) -> int:
    """The status of a form shown again: the rule's own, or 422 for a malformed value."""
    return error.status_code if isinstance(error, DomainError) else 422
