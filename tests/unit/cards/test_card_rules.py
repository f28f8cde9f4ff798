"""Specifications of the identity-card rules (Law on Identification 2023, Art. 19, 21 and 24)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from popreg.cards.rules import (
    GRACE_YEARS,
    RENEWAL_AGES,
    RENEWAL_WINDOW_DAYS,
    ApplicationKind,
    CancelReason,
    CardFacts,
    CardState,
    CardStatus,
    add_years,
    age_on,
    card_required,
    check_applicant,
    check_application,
    check_cancellation,
    check_issue_date,
    check_transition,
    expiry_date,
    reaching_age,
    state_of,
)
from popreg.kit.errors import Conflict, DomainError, InvalidInput

BIRTH = date(1990, 5, 12)
TODAY = date(2026, 1, 2)

births = st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31))
days_after_birth = st.integers(min_value=0, max_value=100 * 366)


# ---------------------------------------------------------------------------------------------
# Ages and expiry


@pytest.mark.parametrize(
    ("issued", "expected"),
    [
        (date(1990, 5, 20), date(2004, 5, 12)),  # a baby's card (on request): until 14
        (date(2001, 5, 11), date(2004, 5, 12)),  # more than two years before 14
        (date(2002, 5, 12), date(2015, 5, 12)),  # exactly two years before 14: within, so until 25
        (date(2003, 1, 1), date(2015, 5, 12)),
        (date(2004, 5, 12), date(2015, 5, 12)),  # renewed on the 14th birthday
        (date(2021, 3, 1), date(2030, 5, 12)),  # aged 30: until 40
        (date(2028, 6, 1), date(2050, 5, 12)),  # aged 38, within two years of 40: until 60
        (date(2048, 5, 11), date(2050, 5, 12)),  # a day short of 58
        (date(2048, 5, 12), None),  # at 58: valid for life
        (date(2070, 1, 1), None),
    ],
)
def test_a_card_expires_on_the_first_renewal_age_more_than_two_years_after_its_issue(issued, expected):
    assert expiry_date(BIRTH, issued) == expected


def test_a_card_cannot_be_issued_before_its_holder_is_born():
    with pytest.raises(ValueError, match="before its holder's birth"):
        expiry_date(BIRTH, BIRTH - timedelta(days=1))


def test_someone_born_on_29_february_reaches_an_age_on_28_february_of_a_common_year():
    leap_born = date(2000, 2, 29)

    assert reaching_age(leap_born, 14) == date(2014, 2, 28)
    assert reaching_age(leap_born, 40) == date(2040, 2, 29)
    assert age_on(leap_born, date(2014, 2, 27)) == 13
    assert age_on(leap_born, date(2014, 2, 28)) == 14
    assert add_years(date(2024, 2, 29), 2) == date(2026, 2, 28)


def test_a_card_is_mandatory_from_the_fourteenth_birthday():
    assert card_required(BIRTH, date(2004, 5, 11)) is False
    assert card_required(BIRTH, date(2004, 5, 12)) is True


@given(birth=births, offset=days_after_birth)
def test_the_expiry_is_a_renewal_birthday_more_than_two_years_after_issue_and_the_first_such(birth, offset):
    issued = birth + timedelta(days=offset)
    expiry = expiry_date(birth, issued)
    end_of_grace = add_years(issued, GRACE_YEARS)
    due_dates = [reaching_age(birth, age) for age in RENEWAL_AGES]

    if expiry is None:
        assert all(due <= end_of_grace for due in due_dates)
    else:
        assert expiry in due_dates
        assert expiry > end_of_grace
        assert not [due for due in due_dates if end_of_grace < due < expiry]


@given(birth=births, first=days_after_birth, gap=st.integers(min_value=0, max_value=40 * 366))
def test_a_later_issue_never_gives_an_earlier_expiry(birth, first, gap):
    earlier = expiry_date(birth, birth + timedelta(days=first))
    later = expiry_date(birth, birth + timedelta(days=first + gap))

    assert (later or date.max) >= (earlier or date.max)


@given(birth=births, offset=st.integers(min_value=58 * 366, max_value=110 * 366))
def test_a_card_issued_after_58_is_valid_for_life(birth, offset):
    assert expiry_date(birth, birth + timedelta(days=offset)) is None


# ---------------------------------------------------------------------------------------------
# Statuses


@pytest.mark.parametrize(
    ("status", "expiry", "state"),
    [
        (CardStatus.APPLIED, None, CardState.APPLIED),
        (CardStatus.PRODUCED, date(2030, 1, 1), CardState.NOT_ISSUED),
        (CardStatus.ISSUED, None, CardState.VALID),
        (CardStatus.ISSUED, TODAY, CardState.VALID),  # valid through its date of expiry
        (CardStatus.ISSUED, TODAY - timedelta(days=1), CardState.EXPIRED),
        (CardStatus.CANCELLED, date(2030, 1, 1), CardState.CANCELLED),
    ],
)
def test_what_a_card_is_worth_today(status, expiry, state):
    assert state_of(status, expiry, TODAY) is state


ALLOWED = {
    (CardStatus.APPLIED, CardStatus.PRODUCED),
    (CardStatus.APPLIED, CardStatus.CANCELLED),
    (CardStatus.PRODUCED, CardStatus.ISSUED),
    (CardStatus.PRODUCED, CardStatus.CANCELLED),
    (CardStatus.ISSUED, CardStatus.CANCELLED),
}


@pytest.mark.parametrize("current", list(CardStatus))
@pytest.mark.parametrize("new", list(CardStatus))
def test_a_card_moves_only_from_application_to_production_to_issuance_or_to_cancellation(current, new):
    if (current, new) in ALLOWED:
        check_transition(current, new)
    else:
        with pytest.raises(Conflict) as refused:
            check_transition(current, new)
        assert refused.value.code == "CARD_TRANSITION_INVALID"


@pytest.mark.parametrize(
    ("status", "reason", "allowed"),
    [
        (CardStatus.ISSUED, CancelReason.LOST, True),
        (CardStatus.APPLIED, CancelReason.LOST, False),
        (CardStatus.APPLIED, CancelReason.WITHDRAWN, True),
        (CardStatus.PRODUCED, CancelReason.WITHDRAWN, True),
        (CardStatus.ISSUED, CancelReason.WITHDRAWN, False),
        (CardStatus.APPLIED, CancelReason.DEATH, True),
        (CardStatus.ISSUED, CancelReason.DEATH, True),
        (CardStatus.ISSUED, CancelReason.REPLACED, True),
        (CardStatus.PRODUCED, CancelReason.DAMAGED, False),
        (CardStatus.CANCELLED, CancelReason.DEATH, False),
    ],
)
def test_each_cancellation_reason_fits_some_statuses(status, reason, allowed):
    if allowed:
        check_cancellation(status, reason)
    else:
        with pytest.raises(Conflict, match="cannot"):
            check_cancellation(status, reason)


# ---------------------------------------------------------------------------------------------
# Applications


def card(card_id: int, status: CardStatus, *, expiry: date | None = date(2030, 5, 12)) -> CardFacts:
    """A card of the person; any but an application was issued in 2021."""
    issued = None if status is CardStatus.APPLIED else date(2021, 3, 1)
    return CardFacts(id=card_id, status=status, issued_on=issued, expiry_date=expiry)


def refusal(kind: ApplicationKind, cards: list[CardFacts], today: date = TODAY) -> str:
    with pytest.raises(DomainError) as refused:
        check_application(kind, cards=cards, today=today)
    return refused.value.code


def test_a_first_card_is_for_someone_who_never_had_one_at_any_age():
    assert check_application(ApplicationKind.FIRST, cards=[], today=TODAY) is None
    assert refusal(ApplicationKind.FIRST, [card(1, CardStatus.ISSUED)]) == "CARD_ALREADY_VALID"
    lost = card(1, CardStatus.CANCELLED)
    assert refusal(ApplicationKind.FIRST, [lost]) == "CARD_FIRST_NOT_ALLOWED"
    withdrawn = CardFacts(id=1, status=CardStatus.CANCELLED, issued_on=None, expiry_date=None)
    assert check_application(ApplicationKind.FIRST, cards=[withdrawn], today=TODAY) is None


def test_one_application_is_in_progress_at_a_time():
    for status in (CardStatus.APPLIED, CardStatus.PRODUCED):
        for kind in ApplicationKind:
            assert refusal(kind, [card(2, status), card(1, CardStatus.CANCELLED)]) == "CARD_APPLICATION_OPEN"


def test_a_renewal_opens_a_fixed_number_of_days_before_the_expiry_and_stays_open_after_it():
    expiry = date(2026, 3, 1)
    current = card(1, CardStatus.ISSUED, expiry=expiry)
    opens = expiry - timedelta(days=RENEWAL_WINDOW_DAYS)

    assert refusal(ApplicationKind.RENEWAL, [current], opens - timedelta(days=1)) == "CARD_RENEWAL_NOT_DUE"
    assert check_application(ApplicationKind.RENEWAL, cards=[current], today=opens) == current
    assert check_application(ApplicationKind.RENEWAL, cards=[current], today=expiry + timedelta(days=400)) == current
    assert refusal(ApplicationKind.RENEWAL, [card(1, CardStatus.ISSUED, expiry=None)]) == "CARD_RENEWAL_NOT_DUE"


@pytest.mark.parametrize(
    "kind", [ApplicationKind.RENEWAL, ApplicationKind.REPLACEMENT_DAMAGED, ApplicationKind.CHANGE_OF_DATA]
)
def test_a_renewal_an_exchange_or_a_damaged_replacement_needs_a_current_card(kind):
    assert refusal(kind, []) == "CARD_NOTHING_TO_REPLACE"
    assert refusal(kind, [card(1, CardStatus.CANCELLED)]) == "CARD_NOTHING_TO_REPLACE"


def test_a_lost_card_is_replaced_whether_still_current_or_already_reported():
    current = card(1, CardStatus.ISSUED)
    reported = card(1, CardStatus.CANCELLED)
    older = CardFacts(id=0, status=CardStatus.CANCELLED, issued_on=date(2010, 1, 1), expiry_date=date(2015, 5, 12))

    assert check_application(ApplicationKind.REPLACEMENT_LOST, cards=[current], today=TODAY) == current
    assert check_application(ApplicationKind.REPLACEMENT_LOST, cards=[reported, older], today=TODAY) == reported
    assert refusal(ApplicationKind.REPLACEMENT_LOST, []) == "CARD_NOTHING_TO_REPLACE"


@pytest.mark.parametrize(
    ("nationality", "alive", "known", "code"),
    [
        ("VNM", False, True, "PERSON_DECEASED"),
        ("LAO", True, True, "CARD_NOT_A_CITIZEN"),
        ("VNM", True, False, "CARD_BIRTH_DATE_INCOMPLETE"),
    ],
)
def test_only_a_living_vietnamese_citizen_whose_birth_date_is_known_to_the_day_can_hold_a_card(
    nationality, alive, known, code
):
    with pytest.raises(Conflict) as refused:
        check_applicant(nationality=nationality, alive=alive, birth_date_known_to_the_day=known)
    assert refused.value.code == code


def test_a_card_is_handed_over_between_its_production_and_today():
    check_issue_date(TODAY, produced_on=TODAY, today=TODAY)
    for day in (TODAY + timedelta(days=1), TODAY - timedelta(days=1)):
        with pytest.raises(InvalidInput) as refused:
            check_issue_date(day, produced_on=TODAY, today=TODAY)
        assert refused.value.code == "CARD_ISSUE_DATE_INVALID"
