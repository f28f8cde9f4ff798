from datetime import date

import pytest

from popreg.kit.errors import Conflict, InvalidInput
from popreg.registry.rules import (
    DatePrecision,
    LifeStatus,
    PartialDate,
    RelationKind,
    check_birth_date,
    check_life_transition,
    check_parent_older,
    diff,
    replay,
    require_legal_basis,
)


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        ("1990-05-12", date(1990, 5, 12), DatePrecision.DAY),
        ("1990-05", date(1990, 5, 1), DatePrecision.MONTH),
        ("1990", date(1990, 1, 1), DatePrecision.YEAR),
    ],
)
def test_a_date_of_birth_may_be_known_to_the_day_month_or_year(text, value, precision):
    parsed = PartialDate.parse(text)
    assert (parsed.value, parsed.precision, str(parsed)) == (value, precision, text)


@pytest.mark.parametrize("text", ["1990-13", "1990-02-30", "90-01-01", "1990/01/01", "", "1990-1-1"])
def test_impossible_or_misformatted_dates_are_refused(text):
    with pytest.raises(InvalidInput) as refused:
        PartialDate.parse(text)
    assert refused.value.code == "DATE_INVALID"


def test_the_latest_day_of_a_partial_date_covers_leap_years():
    assert PartialDate.parse("2024-02").latest() == date(2024, 2, 29)
    assert PartialDate.parse("2023").latest() == date(2023, 12, 31)


def test_a_birth_in_the_future_or_before_1880_is_refused():
    with pytest.raises(InvalidInput, match="future"):
        check_birth_date(PartialDate.parse("2030-01-01"), today=date(2026, 1, 1))
    with pytest.raises(InvalidInput) as refused:
        check_birth_date(PartialDate.parse("1870"), today=date(2026, 1, 1))
    assert refused.value.code == "BIRTH_DATE_IMPOSSIBLE"


def test_a_parent_known_only_by_year_is_accepted_unless_certainly_younger():
    check_parent_older(
        parent=PartialDate.parse("1990"), child=PartialDate.parse("1990-12-31"), kind=RelationKind.MOTHER
    )
    with pytest.raises(InvalidInput):
        check_parent_older(
            parent=PartialDate.parse("1991"), child=PartialDate.parse("1990-12-31"), kind=RelationKind.MOTHER
        )


def test_death_is_final_but_a_court_declaration_can_be_annulled():
    check_life_transition(LifeStatus.ALIVE, LifeStatus.DECEASED)
    check_life_transition(LifeStatus.DECLARED_MISSING, LifeStatus.ALIVE)
    with pytest.raises(Conflict):
        check_life_transition(LifeStatus.DECEASED, LifeStatus.ALIVE)
    with pytest.raises(Conflict):
        check_life_transition(LifeStatus.DECEASED, LifeStatus.DECLARED_DEAD)


def test_a_legal_basis_is_required_and_trimmed():
    assert require_legal_basis("  QĐ 12/2026 ") == "QĐ 12/2026"
    with pytest.raises(InvalidInput):
        require_legal_basis("  ")


def test_replaying_history_rebuilds_fields_and_sub_records():
    events = [
        diff({}, {"full_name": "A", "sex": "F"}),
        {"residences.1": [None, {"unit_code": "00004", "valid_to": None}]},
        {"full_name": ["A", "B"]},
        {
            "residences.1": [{"unit_code": "00004"}, {"unit_code": "00004", "valid_to": "2026-01-01"}],
            "residences.2": [None, {"unit_code": "00070", "valid_to": None}],
        },
        {"relations.5": [None, {"kind": "spouse"}]},
        {"relations.5": [{"kind": "spouse"}, None]},
    ]
    state = replay(events)
    assert state["full_name"] == "B" and state["sex"] == "F"
    assert [r["unit_code"] for r in state["residences"]] == ["00004", "00070"]
    assert state["residences"][0]["valid_to"] == "2026-01-01"
    assert state["relations"] == []
