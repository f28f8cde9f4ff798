"""Roles and jurisdiction of officials (pure rules).

A commune officer reads and changes only the residents of their commune, a province officer those
of their province, a national administrator everyone; an auditor reads within their jurisdiction
(the whole nation when none is set) but never changes anything. Jurisdictions are units of the
current (2025) generation: a 5-digit commune code or a 2-digit province code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from popreg.kit.errors import Forbidden, InvalidInput


class Role(StrEnum):
    COMMUNE_OFFICER = "commune_officer"
    PROVINCE_OFFICER = "province_officer"
    NATIONAL_ADMIN = "national_admin"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a person belongs for jurisdiction: a current commune and its province."""

    commune_code: str | None
    province_code: str | None


@dataclass(frozen=True, slots=True)
class OfficialPrincipal:
    """The signed-in official on whose behalf an operation runs."""

    id: int
    username: str
    display_name: str
    role: Role
    jurisdiction_code: str | None
    acting_for: str | None = None
    """An agency (partner id) whose sync update the register applies: it is then the changes' source
    and actor, instead of an official (see ``popreg.sync``)."""

    @property
    def actor(self) -> str:
        """How the official (or the agency's system) is named in history events and the access log."""
        return f"partner:{self.acting_for}" if self.acting_for else f"official:{self.username}"

    @property
    def can_write(self) -> bool:
        return self.role is not Role.AUDITOR

    def covers(self, place: Place) -> bool:
        """Whether a place lies inside this official's jurisdiction."""
        code = self.jurisdiction_code
        if code is None:
            return self.role in (Role.NATIONAL_ADMIN, Role.AUDITOR)
        if len(code) == 2:
            return place.province_code == code
        return place.commune_code == code

    def covers_any(self, places: Iterable[Place]) -> bool:
        return any(self.covers(place) for place in places)


def check_role_jurisdiction(role: Role, jurisdiction_code: str | None) -> None:
    """Each role has the jurisdiction level it needs: a commune, a province, or the nation."""
    expected = {
        Role.COMMUNE_OFFICER: "a 5-digit commune code",
        Role.PROVINCE_OFFICER: "a 2-digit province code",
    }
    if role is Role.COMMUNE_OFFICER and (jurisdiction_code is None or len(jurisdiction_code) != 5):
        raise InvalidInput(
            f"A commune officer's jurisdiction must be {expected[role]}.", code="OFFICIAL_JURISDICTION_INVALID"
        )
    if role is Role.PROVINCE_OFFICER and (jurisdiction_code is None or len(jurisdiction_code) != 2):
        raise InvalidInput(
            f"A province officer's jurisdiction must be {expected[role]}.", code="OFFICIAL_JURISDICTION_INVALID"
        )
    if role is Role.NATIONAL_ADMIN and jurisdiction_code is not None:
        raise InvalidInput(
            "A national administrator has no jurisdiction code (the whole nation).",
            code="OFFICIAL_JURISDICTION_INVALID",
        )


def require_write(principal: OfficialPrincipal) -> None:
    if not principal.can_write:
        raise Forbidden("Auditors may read the register but never change it.", code="ROLE_READ_ONLY")


def require_jurisdiction(principal: OfficialPrincipal, places: Iterable[Place]) -> None:
    if not principal.covers_any(places):
        raise Forbidden(
            "This person is outside your jurisdiction. Ask an official of their commune or province.",
            code="JURISDICTION_DENIED",
        )
