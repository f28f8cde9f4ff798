import pytest

from popreg.kit.errors import Forbidden, InvalidInput
from popreg.officials.rules import (
    OfficialPrincipal,
    Place,
    Role,
    check_role_jurisdiction,
    require_jurisdiction,
    require_write,
)

BA_DINH = Place(commune_code="00004", province_code="01")
HOAN_KIEM = Place(commune_code="00070", province_code="01")
SAIGON = Place(commune_code="26740", province_code="79")


def official(role: Role, code: str | None) -> OfficialPrincipal:
    return OfficialPrincipal(id=1, username="x", display_name="X", role=role, jurisdiction_code=code)


def test_a_commune_officer_covers_only_their_commune():
    officer = official(Role.COMMUNE_OFFICER, "00004")
    assert officer.covers(BA_DINH)
    assert not officer.covers(HOAN_KIEM)
    with pytest.raises(Forbidden) as refused:
        require_jurisdiction(officer, [HOAN_KIEM])
    assert refused.value.code == "JURISDICTION_DENIED"


def test_a_province_officer_covers_every_commune_of_their_province():
    officer = official(Role.PROVINCE_OFFICER, "01")
    assert officer.covers(BA_DINH) and officer.covers(HOAN_KIEM)
    assert not officer.covers(SAIGON)


def test_a_national_administrator_covers_everyone():
    admin = official(Role.NATIONAL_ADMIN, None)
    assert admin.covers(SAIGON) and admin.covers(Place(None, None))


def test_a_person_with_a_residence_in_the_jurisdiction_is_covered_even_if_home_is_elsewhere():
    officer = official(Role.COMMUNE_OFFICER, "00070")
    require_jurisdiction(officer, [BA_DINH, HOAN_KIEM])


def test_an_auditor_reads_but_never_writes():
    auditor = official(Role.AUDITOR, None)
    assert auditor.covers(SAIGON)
    with pytest.raises(Forbidden) as refused:
        require_write(auditor)
    assert refused.value.code == "ROLE_READ_ONLY"


def test_a_provincial_auditor_reads_only_their_province():
    auditor = official(Role.AUDITOR, "79")
    assert auditor.covers(SAIGON)
    assert not auditor.covers(BA_DINH)


@pytest.mark.parametrize(
    ("role", "code"),
    [
        (Role.COMMUNE_OFFICER, None),
        (Role.COMMUNE_OFFICER, "01"),
        (Role.PROVINCE_OFFICER, "00004"),
        (Role.NATIONAL_ADMIN, "01"),
    ],
)
def test_each_role_needs_a_jurisdiction_of_its_level(role, code):
    with pytest.raises(InvalidInput) as refused:
        check_role_jurisdiction(role, code)
    assert refused.value.code == "OFFICIAL_JURISDICTION_INVALID"
