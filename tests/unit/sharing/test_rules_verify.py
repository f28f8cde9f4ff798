"""Comparing claims with the register: the three match modes, statuses, refusals, and their properties."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from popreg.kit.errors import DomainError
from popreg.sharing.rules import (
    DEFAULT_THRESHOLD,
    VERIFIABLE_FIELDS,
    CardFact,
    Claims,
    MatchMode,
    RegisterFacts,
    foreign_order,
    name_similarity,
    verify_claims,
)

TODAY = date(2026, 6, 1)
EXACT, NORMALISED, FUZZY = MatchMode.EXACT, MatchMode.NORMALISED, MatchMode.FUZZY
VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"


def facts(**overrides: object) -> RegisterFacts:
    values: dict[str, object] = {
        "pin": "001190012345",
        "full_name": "Nguyễn Thị Minh Khai",
        "birth_date": date(1990, 5, 12),
        "birth_date_precision": "day",
        "sex": "F",
        "nationality": "VNM",
        "life_status": "alive",
        "permanent_commune_code": "00004",
        "permanent_address": "Số 12, ngõ 45, phố Đội Cấn",
        "cards": (CardFact(issued_on=date(2021, 3, 1), expiry_date=date(2030, 5, 12), status="issued"),),
    }
    values.update(overrides)
    return RegisterFacts(**values)  # type: ignore[arg-type]


def check(mode: MatchMode, held: RegisterFacts | None = None, threshold: float = DEFAULT_THRESHOLD, **claimed: str):
    return verify_claims(
        Claims(**claimed), facts() if held is None else held, mode=mode, threshold=threshold, today=TODAY
    )


def refusal(mode: MatchMode = NORMALISED, threshold: float = DEFAULT_THRESHOLD, **claimed: str) -> DomainError:
    with pytest.raises(DomainError) as raised:
        verify_claims(Claims(**claimed), facts(), mode=mode, threshold=threshold, today=TODAY)
    assert raised.value.status_code == 422
    return raised.value


# --- exact -----------------------------------------------------------------------------------


def test_exact_matches_the_name_as_registered_even_typed_decomposed_and_with_stray_spaces():
    decomposed = unicodedata.normalize("NFD", "  Nguyễn  Thị Minh Khai ")
    verdict = check(EXACT, full_name=decomposed)
    assert verdict.result == "match"
    assert verdict.attributes == {"full_name": "match"}
    assert verdict.scores == {}


@pytest.mark.parametrize("claimed", ["NGUYỄN THỊ MINH KHAI", "Nguyen Thi Minh Khai", "Thị Minh Khai Nguyễn"])
def test_exact_refuses_any_other_case_accent_or_order(claimed):
    assert check(EXACT, full_name=claimed).result == "no_match"


def test_exact_refuses_the_other_tone_placement_that_normalised_accepts():
    held = facts(full_name="Lê Thị Hòa")
    assert check(EXACT, held, full_name="Lê Thị Hoà").result == "no_match"
    assert check(NORMALISED, held, full_name="Lê Thị Hoà").result == "match"


@pytest.mark.parametrize(
    ("precision", "claimed", "expected"),
    [
        ("day", "1990-05-12", "match"),
        ("day", "1990-05", "no_match"),
        ("day", "1990", "no_match"),
        ("month", "1990-05", "match"),
        ("month", "1990-05-01", "no_match"),
        ("year", "1990", "match"),
        ("year", "1990-01-01", "no_match"),
    ],
)
def test_exact_compares_dates_at_the_registers_precision_only(precision, claimed, expected):
    held = facts(birth_date=date(1990, 5 if precision != "year" else 1, 12 if precision == "day" else 1))
    held = replace(held, birth_date_precision=precision)
    assert check(EXACT, held, birth_date=claimed).result == expected


def test_exact_takes_sex_nationality_and_commune_code_as_registered():
    assert check(EXACT, sex="F", nationality="VNM", permanent_commune_code="00004").result == "match"
    assert check(EXACT, sex="Nữ").attributes == {"sex": "no_match"}
    assert check(EXACT, nationality="vnm").attributes == {"nationality": "no_match"}
    assert check(EXACT, permanent_commune_code="4").attributes == {"permanent_commune_code": "no_match"}


# --- normalised ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claimed",
    [
        "NGUYEN THI MINH KHAI",
        "nguyễn thị minh khai",
        "Nguyen  Thi Minh-Khai",
        "Thị Minh Khai Nguyễn",
        "Thi Minh Khai NGUYEN",
    ],
)
def test_normalised_ignores_case_accents_spacing_and_foreign_order(claimed):
    assert check(NORMALISED, full_name=claimed).result == "match"


def test_normalised_folds_the_letter_d_stroke():
    assert check(NORMALISED, facts(full_name="Đặng Văn Đức"), full_name="DANG VAN DUC").result == "match"


def test_normalised_does_not_forgive_a_typing_error():
    assert check(NORMALISED, full_name="Nguyen Thi Minh Khia").result == "no_match"


@pytest.mark.parametrize(
    ("precision", "claimed", "expected"),
    [
        ("day", "1990", "match"),
        ("day", "1990-05", "match"),
        ("day", "1990-06", "no_match"),
        ("year", "1990-05-12", "match"),
        ("year", "1991-05-12", "no_match"),
        ("month", "1990-05-30", "match"),
        ("month", "1990-04-12", "no_match"),
    ],
)
def test_normalised_compares_dates_at_the_coarser_precision(precision, claimed, expected):
    held = replace(facts(), birth_date_precision=precision)
    assert check(NORMALISED, held, birth_date=claimed).result == expected


@pytest.mark.parametrize("claimed", ["F", "f", "Nữ", "NỮ", "nu", "female", "Female", " F "])
def test_normalised_accepts_every_spelling_of_female(claimed):
    assert check(NORMALISED, sex=claimed).result == "match"


@pytest.mark.parametrize("claimed", ["M", "Nam", "male"])
def test_normalised_refuses_the_other_sex(claimed):
    assert check(NORMALISED, sex=claimed).result == "no_match"


def test_normalised_pads_commune_codes_to_five_digits():
    assert check(NORMALISED, permanent_commune_code="4").result == "match"
    assert check(NORMALISED, permanent_commune_code=" 004 ").result == "match"
    assert check(NORMALISED, permanent_commune_code="40").result == "no_match"


def test_normalised_folds_the_address_and_nationality():
    verdict = check(NORMALISED, permanent_address="so 12, NGO 45, pho doi can", nationality="vnm")
    assert verdict.attributes == {"nationality": "match", "permanent_address": "match"}


def test_a_person_without_a_permanent_residence_matches_no_claimed_address():
    held = facts(permanent_commune_code=None, permanent_address=None)
    verdict = check(FUZZY, held, permanent_commune_code="00004", permanent_address="Số 12, ngõ 45, phố Đội Cấn")
    assert verdict.attributes == {"permanent_commune_code": "no_match", "permanent_address": "no_match"}


# --- fuzzy -----------------------------------------------------------------------------------


def test_fuzzy_forgives_a_typing_error_and_reports_the_similarity():
    verdict = check(FUZZY, full_name="Nguyen Thi Mihn Khai")
    assert verdict.result == "match"
    assert verdict.scores == {"full_name": pytest.approx(0.95)}


def test_fuzzy_tells_apart_people_who_share_family_and_middle_names():
    held = facts(full_name="Nguyễn Văn Bình", sex="M")
    verdict = check(FUZZY, held, full_name="Nguyễn Văn An")
    assert verdict.attributes == {"full_name": "no_match"}
    # A wrong claim is never told how close it came.
    assert verdict.scores == {"full_name": 0.0}


def test_fuzzy_threshold_is_the_callers():
    assert check(FUZZY, threshold=0.99, full_name="Nguyen Thi Mihn Khai").result == "no_match"
    assert check(FUZZY, threshold=0.5, full_name="Nguyen Thi Minh").result == "match"


def test_fuzzy_accepts_a_foreign_order_name_with_a_typing_error():
    assert check(FUZZY, full_name="Thi Minh Khia Nguyen").result == "match"


def test_fuzzy_accepts_day_and_month_swapped():
    assert check(FUZZY, birth_date="1990-12-05").result == "match"
    assert check(NORMALISED, birth_date="1990-12-05").result == "no_match"


def test_fuzzy_accepts_an_address_with_components_reordered_or_left_out():
    verdict = check(FUZZY, permanent_address="Ngõ 45, số 12, phố Đội Cấn")
    assert verdict.result == "match"
    assert verdict.scores == {"permanent_address": 1.0}
    assert check(FUZZY, permanent_address="12 ngõ 45 Đội Cấn").result == "no_match"
    assert check(FUZZY, threshold=0.8, permanent_address="12 ngõ 45 Đội Cấn").result == "match"


def test_similarity_measure_is_symmetric_in_order_of_the_registered_name():
    assert foreign_order("nguyen van an") == "van an nguyen"
    assert foreign_order("an") == "an"
    assert name_similarity("van an nguyen", "nguyen van an") == 1.0


# --- statuses --------------------------------------------------------------------------------


def test_a_deceased_person_answers_as_such_once_the_claims_match():
    held = facts(life_status="deceased")
    assert check(NORMALISED, held, full_name="Nguyen Thi Minh Khai").person_status == "deceased"
    assert check(NORMALISED, held, full_name="Someone Else").person_status is None


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        (CardFact(issued_on=date(2021, 3, 1), expiry_date=date(2030, 5, 12), status="issued"), "valid"),
        (CardFact(issued_on=date(2021, 3, 1), expiry_date=date(2025, 5, 12), status="issued"), "expired"),
        (CardFact(issued_on=date(2021, 3, 1), expiry_date=date(2030, 5, 12), status="cancelled"), "cancelled"),
        (CardFact(issued_on=date(2021, 3, 1), expiry_date=None, status="issued"), "valid"),
    ],
)
def test_card_status_is_that_of_the_card_issued_on_the_claimed_day(card, expected):
    verdict = check(NORMALISED, facts(cards=(card,)), card_issued_on="2021-03-01")
    assert (verdict.result, verdict.card_status) == ("match", expected)


def test_an_older_card_is_found_by_its_own_date_of_issue():
    old = CardFact(issued_on=date(2016, 1, 4), expiry_date=date(2030, 5, 12), status="cancelled")
    new = CardFact(issued_on=date(2021, 3, 1), expiry_date=date(2030, 5, 12), status="issued")
    assert check(EXACT, facts(cards=(new, old)), card_issued_on="2016-01-04").card_status == "cancelled"
    assert check(EXACT, facts(cards=(new, old)), card_issued_on="2016-01-05").result == "no_match"


def test_card_status_is_not_told_when_another_claim_fails():
    verdict = check(NORMALISED, card_issued_on="2021-03-01", sex="M")
    assert verdict.attributes == {"sex": "no_match", "card_issued_on": "match"}
    assert (verdict.result, verdict.card_status, verdict.person_status) == ("no_match", None, None)


def test_card_status_is_only_told_when_the_card_was_claimed():
    assert check(NORMALISED, sex="F").card_status is None


# --- refusals --------------------------------------------------------------------------------


def test_no_claim_is_refused():
    assert refusal().code == "VERIFY_NO_CLAIMS"
    assert refusal(full_name="  ", sex="").code == "VERIFY_NO_CLAIMS"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("birth_date", "12/05/1990"),
        ("birth_date", "1990-02-30"),
        ("birth_date", "1990-13"),
        ("birth_date", "0000"),
        ("birth_date", "1990-5-12"),
        ("card_issued_on", "2021-03"),
        ("card_issued_on", "2021-02-29"),
    ],
)
def test_a_malformed_date_is_refused(field, value):
    error = refusal(**{field: value})
    assert (error.code, error.details) == ("VERIFY_INVALID_DATE", {"field": field})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sex", "X"),
        ("sex", "unknown"),
        ("nationality", "Vietnam"),
        ("nationality", "V1N"),
        ("permanent_commune_code", "Ba Đình"),
        ("permanent_commune_code", "000041"),
        ("full_name", "A" * 201),
        ("permanent_address", "x" * 301),
    ],
)
def test_a_malformed_value_is_refused(field, value):
    error = refusal(**{field: value})
    assert (error.code, error.details) == ("VERIFY_INVALID_VALUE", {"field": field})


@pytest.mark.parametrize("threshold", [0.0, -0.5, 1.01, float("nan")])
def test_a_threshold_outside_zero_to_one_is_refused(threshold):
    assert refusal(FUZZY, threshold=threshold, sex="F").code == "VERIFY_INVALID_THRESHOLD"


def test_a_refusal_is_the_same_whether_or_not_the_pin_exists():
    claims = Claims(sex="X")
    with pytest.raises(DomainError) as unknown:
        verify_claims(claims, None, mode=NORMALISED, threshold=0.85, today=TODAY)
    with pytest.raises(DomainError) as known:
        verify_claims(claims, facts(), mode=NORMALISED, threshold=0.85, today=TODAY)
    assert unknown.value.to_dict() == known.value.to_dict()


def test_claims_from_a_mapping_refuse_unknown_attributes():
    assert Claims.from_mapping({"full_name": "An", "sex": None}).claimed_fields() == ("full_name",)
    with pytest.raises(DomainError) as raised:
        Claims.from_mapping({"full_name": "An", "phone": "0912"})
    assert (raised.value.code, raised.value.details["field"]) == ("VERIFY_UNKNOWN_FIELD", "phone")


# --- properties ------------------------------------------------------------------------------

WORD = st.text(alphabet=VIETNAMESE + VIETNAMESE.upper(), min_size=1, max_size=8)
NAME = st.lists(WORD, min_size=1, max_size=5).map(" ".join)
DAY = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 5, 31))
CARD = st.builds(
    CardFact,
    issued_on=DAY,
    expiry_date=st.none() | DAY,
    status=st.sampled_from(["issued", "cancelled"]),
)
FACTS = st.builds(
    RegisterFacts,
    pin=st.just("001190012345"),
    full_name=NAME,
    birth_date=DAY,
    birth_date_precision=st.sampled_from(["day", "month", "year"]),
    sex=st.sampled_from(["M", "F"]),
    nationality=st.sampled_from(["VNM", "LAO", "KHM"]),
    life_status=st.sampled_from(["alive", "deceased", "declared_missing", "declared_dead"]),
    permanent_commune_code=st.none() | st.sampled_from(["00004", "00070", "26740"]),
    permanent_address=st.none() | NAME,
    cards=st.lists(CARD, max_size=3).map(tuple),
)
PARTIAL_DATE = st.one_of(
    DAY.map(lambda d: d.isoformat()), DAY.map(lambda d: d.isoformat()[:7]), DAY.map(lambda d: d.isoformat()[:4])
)
CLAIMS = st.builds(
    Claims,
    full_name=st.none() | NAME,
    birth_date=st.none() | PARTIAL_DATE,
    sex=st.none() | st.sampled_from(["M", "F", "nam", "Nữ", "female", "MALE"]),
    nationality=st.none() | st.sampled_from(["VNM", "vnm", "LAO"]),
    permanent_commune_code=st.none() | st.sampled_from(["00004", "4", "70", "26740"]),
    permanent_address=st.none() | NAME,
    card_issued_on=st.none() | DAY.map(lambda d: d.isoformat()),
).filter(lambda claims: claims.claimed_fields() != ())
THRESHOLD = st.floats(min_value=0.01, max_value=1.0)


def claims_from(held: RegisterFacts, picked: list[str]) -> Claims:
    """Claims that say exactly what the register holds."""
    stated = {
        "full_name": held.full_name,
        "birth_date": held.birth_date.isoformat()[: {"day": 10, "month": 7, "year": 4}[held.birth_date_precision]],
        "sex": held.sex,
        "nationality": held.nationality,
        "permanent_commune_code": held.permanent_commune_code,
        "permanent_address": held.permanent_address,
        "card_issued_on": held.cards[0].issued_on.isoformat() if held.cards else None,
    }
    return Claims(**{name: stated[name] for name in picked})


@given(FACTS, CLAIMS, THRESHOLD)
def test_an_exact_match_is_a_normalised_match_and_that_a_fuzzy_match(held, claims, threshold):
    verdicts = [verify_claims(claims, held, mode=mode, threshold=threshold, today=TODAY) for mode in MatchMode]
    for stricter, looser in zip(verdicts, verdicts[1:], strict=False):
        for name, answer in stricter.attributes.items():
            if answer == "match":
                assert looser.attributes[name] == "match", name
        if stricter.result == "match":
            assert looser.result == "match"
            assert (looser.person_status, looser.card_status) == (stricter.person_status, stricter.card_status)


@given(FACTS, st.lists(st.sampled_from(VERIFIABLE_FIELDS), min_size=1, unique=True), THRESHOLD)
def test_claims_built_from_the_register_match_in_every_mode(held, picked, threshold):
    claims = claims_from(held, picked)
    if not claims.claimed_fields():
        return  # the person has none of the picked attributes (no residence, no card)
    for mode in MatchMode:
        verdict = verify_claims(claims, held, mode=mode, threshold=threshold, today=TODAY)
        assert verdict.result == "match", (mode, verdict)
        assert verdict.person_status == held.life_status


@given(FACTS, CLAIMS, st.sampled_from(list(MatchMode)), THRESHOLD)
def test_an_unknown_pin_answers_like_a_known_pin_whose_every_claim_fails(held, claims, mode, threshold):
    unknown = verify_claims(claims, None, mode=mode, threshold=threshold, today=TODAY)
    known = verify_claims(claims, held, mode=mode, threshold=threshold, today=TODAY)
    assert unknown.result == "no_match"
    assert set(unknown.attributes.values()) == {"no_match"}
    if set(known.attributes.values()) == {"no_match"}:
        assert known == unknown
