"""Column-wise verification answers every row exactly as the per-claim rules do."""

from __future__ import annotations

import sys
import unicodedata
from datetime import date

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from popreg.kit.errors import DomainError
from popreg.kit.text import canonical, fold
from popreg.sharing.columns import canonical_values, folded_values, foreign_order_values, verify_table
from popreg.sharing.facts import facts_to_table
from popreg.sharing.rules import (
    SIMILARITY_FIELDS,
    VERIFIABLE_FIELDS,
    CardFact,
    Claims,
    MatchMode,
    RegisterFacts,
    foreign_order,
    verify_claims,
)

TODAY = date(2026, 6, 1)
VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
# Characters where Arrow and Python part ways (other scripts, odd case foldings, exotic spaces).
AWKWARD = "ßẞſµ\u034f\u00a0\u2003\u000b\u3000\u0301\u0323ЖжΣσς中\u1100\u0e01_-.,'\"²"


def expected_row(pin: str, claims: Claims, held: RegisterFacts | None, mode: MatchMode, threshold: float) -> dict:
    """What the per-claim rules answer, in the shape of a row of ``verify_table``."""
    if len(pin) != 12 or not pin.isascii() or not pin.isdigit():
        return {"result": "invalid", "error_code": "PIN_INVALID_STRUCTURE", "error_field": "pin"}
    try:
        verdict = verify_claims(claims, held, mode=mode, threshold=threshold, today=TODAY)
    except DomainError as error:
        return {"result": "invalid", "error_code": error.code, "error_field": error.details.get("field")}
    return {
        "result": verdict.result,
        "error_code": None,
        "error_field": None,
        "attributes": verdict.attributes,
        "scores": verdict.scores,
        "person_status": verdict.person_status,
        "card_status": verdict.card_status,
    }


def actual_row(row: dict, fields: list[str], mode: MatchMode) -> dict:
    answer = {"result": row["result"], "error_code": row["error_code"], "error_field": row["error_field"]}
    if row["result"] == "invalid":
        return answer
    answer["attributes"] = {name: row[f"{name}_result"] for name in fields if row[f"{name}_result"] is not None}
    answer["scores"] = (
        {
            name: row[f"{name}_score"]
            for name in fields
            if name in SIMILARITY_FIELDS and row[f"{name}_score"] is not None
        }
        if mode is MatchMode.FUZZY
        else {}
    )
    answer["person_status"] = row["person_status"]
    answer["card_status"] = row["card_status"]
    return answer


# --- strategies ------------------------------------------------------------------------------

WORD = st.text(alphabet=VIETNAMESE + VIETNAMESE.upper(), min_size=1, max_size=7)
NAME = st.lists(WORD, min_size=1, max_size=4).map(" ".join)
DAY = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 5, 31))
PINS = [f"0011900{n:05d}" for n in range(6)]
CARD = st.builds(
    CardFact,
    issued_on=st.sampled_from([date(2021, 3, 1), date(2016, 1, 4)]),
    expiry_date=st.none() | st.sampled_from([date(2025, 1, 1), TODAY, date(2030, 5, 12)]),
    status=st.sampled_from(["issued", "cancelled"]),
)


@st.composite
def register_facts(draw: st.DrawFn, pin: str) -> RegisterFacts:
    return RegisterFacts(
        pin=pin,
        full_name=draw(NAME),
        birth_date=draw(DAY),
        birth_date_precision=draw(st.sampled_from(["day", "month", "year"])),
        sex=draw(st.sampled_from(["M", "F"])),
        nationality=draw(st.sampled_from(["VNM", "LAO"])),
        life_status=draw(st.sampled_from(["alive", "deceased", "declared_missing"])),
        permanent_commune_code=draw(st.none() | st.sampled_from(["00004", "00070"])),
        permanent_address=draw(st.none() | NAME),
        cards=tuple(draw(st.lists(CARD, max_size=3))),
    )


def variants(value: str) -> st.SearchStrategy[str]:
    """The value as registered, and the ways partners mistype or reformat it."""
    words = value.split(" ")
    return st.sampled_from(
        [
            value,
            value.upper(),
            unicodedata.normalize("NFD", value),
            f"  {value}\t",
            fold(value),
            " ".join([*words[1:], words[0]]),
            value[:-1],
            value[:1] + value[2:] if len(value) > 2 else value,
            value + "x",
        ]
    )


def registered_value(field: str, held: RegisterFacts) -> st.SearchStrategy[str | None]:
    """A claim taken from what the register holds, as partners write it (or slightly wrong)."""
    if field == "full_name":
        return variants(held.full_name)
    if field == "permanent_address":
        return variants(held.permanent_address) if held.permanent_address else st.none()
    if field == "birth_date":
        text = held.birth_date.isoformat()
        return st.sampled_from([text, text[:7], text[:4], f"{text[:4]}-{text[8:10]}-{text[5:7]}"])
    if field == "card_issued_on":
        return st.sampled_from([c.issued_on.isoformat() for c in held.cards] or ["2021-03-01"])
    if field == "sex":
        return st.sampled_from([held.sex, held.sex.lower(), {"M": "Nam", "F": "Nữ"}[held.sex]])
    if field == "nationality":
        return st.sampled_from([held.nationality, held.nationality.lower()])
    return st.sampled_from([held.permanent_commune_code or "00004", (held.permanent_commune_code or "4").lstrip("0")])


def claim_value(field: str, held: RegisterFacts | None) -> st.SearchStrategy[str | None]:
    noise = st.text(alphabet=VIETNAMESE + AWKWARD + " 0123456789", max_size=12)
    blank = st.sampled_from(["", "  ", "\u3000"])
    options: list[st.SearchStrategy[str | None]] = [st.none(), blank, noise]
    if field == "birth_date":
        options += [
            DAY.map(lambda d: d.isoformat()[: [10, 7, 4][d.day % 3]]),
            st.sampled_from(["1990-00", "1990-02-30", "0000", "1990-13-01", "90-05-12", " 1990 ", "1990-05-"]),
        ]
    elif field == "card_issued_on":
        options.append(st.sampled_from(["2021-03-01", "2016-01-04", "2021-02-29", "2021-03", " 2021-03-01"]))
    elif field == "sex":
        options.append(st.sampled_from(["M", "F", "m", "Nam", "NỮ", "nu", "Female", "male ", "X", "ß"]))
    elif field == "nationality":
        options.append(st.sampled_from(["VNM", "vnm", " LAO ", "VN", "V1M", "ЖЖЖ"]))
    elif field == "permanent_commune_code":
        options.append(st.sampled_from(["00004", "4", " 70 ", "000070", "4a", "00070"]))
    elif field == "full_name":
        options += [NAME, st.just("x" * 201)]
    else:
        options.append(NAME)
    if held is None:
        return st.one_of(*options)
    # Mostly claims about the person as registered, so that whole rows match often enough for
    # statuses and similarity scores to be compared too.
    return st.one_of(st.one_of(*options), *[registered_value(field, held)] * 5)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[str], list[Claims], list[RegisterFacts], list[str]]:
    known = [draw(register_facts(pin)) for pin in PINS[:4]]  # the last two PINs are unknown
    by_pin = {facts.pin: facts for facts in known}
    fields = draw(st.lists(st.sampled_from(VERIFIABLE_FIELDS), min_size=1, max_size=4, unique=True))
    pins, claims = [], []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        pin = draw(st.sampled_from([*PINS[:4], *PINS, "00119001234", " 001190000001"]))
        held = by_pin.get(pin)
        pins.append(pin)
        claims.append(Claims(**{name: draw(claim_value(name, held)) for name in fields}))
    return pins, claims, known, fields


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.sampled_from(list(MatchMode)), st.sampled_from([0.85, 0.5, 1.0, 0.93]))
def test_column_wise_verification_answers_each_row_as_the_rules_do(case, mode, threshold):
    pins, claims, known, fields = case
    by_pin = {facts.pin: facts for facts in known}
    table = pa.table({"pin": pins, **{name: [getattr(c, name) for c in claims] for name in fields}})
    answers = verify_table(table, facts_to_table(known), mode=mode, threshold=threshold, today=TODAY).to_pylist()
    for pin, claim, row in zip(pins, claims, answers, strict=True):
        assert actual_row(row, fields, mode) == expected_row(pin, claim, by_pin.get(pin), mode, threshold), (pin, claim)


def test_a_cancelled_card_of_a_deceased_person_answers_as_such_in_both():
    held = RegisterFacts(
        pin=PINS[0],
        full_name="Trần Văn Bình",
        birth_date=date(1950, 1, 1),
        birth_date_precision="year",
        sex="M",
        nationality="VNM",
        life_status="deceased",
        permanent_commune_code=None,
        permanent_address=None,
        cards=(CardFact(issued_on=date(2016, 1, 4), expiry_date=None, status="cancelled"),),
    )
    table = pa.table(
        {"pin": [PINS[0], PINS[5]], "birth_date": ["1950-07-02"] * 2, "card_issued_on": ["2016-01-04"] * 2}
    )
    rows = verify_table(table, facts_to_table([held]), mode=MatchMode.NORMALISED, threshold=0.85, today=TODAY)
    assert rows.select(["result", "person_status", "card_status"]).to_pylist() == [
        {"result": "match", "person_status": "deceased", "card_status": "cancelled"},
        {"result": "no_match", "person_status": None, "card_status": None},
    ]


def test_of_two_cards_handed_over_the_same_day_the_one_not_cancelled_answers_in_both():
    cards = (
        CardFact(issued_on=date(2021, 3, 1), expiry_date=None, status="cancelled"),
        CardFact(issued_on=date(2021, 3, 1), expiry_date=None, status="issued"),
    )
    held = RegisterFacts(PINS[0], "An", date(1990, 1, 1), "day", "M", "VNM", "alive", None, None, cards)
    claims = Claims(card_issued_on="2021-03-01")
    table = pa.table({"pin": [PINS[0]], "card_issued_on": ["2021-03-01"]})
    rows = verify_table(table, facts_to_table([held]), mode=MatchMode.EXACT, threshold=0.85, today=TODAY)
    verdict = verify_claims(claims, held, mode=MatchMode.EXACT, threshold=0.85, today=TODAY)
    assert rows["card_status"].to_pylist() == [verdict.card_status] == ["valid"]


def test_a_column_that_is_not_a_claim_is_refused():
    with pytest.raises(DomainError) as raised:
        verify_table(
            pa.table({"pin": [PINS[0]], "phone": ["0912"]}),
            facts_to_table([]),
            mode=MatchMode.EXACT,
            threshold=0.85,
            today=TODAY,
        )
    assert raised.value.code == "VERIFY_UNKNOWN_FIELD"


# --- the text functions underneath -----------------------------------------------------------

LATIN = [
    chr(c)
    for a, b in ((0, 0x250), (0x300, 0x370), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x3000, 0x3001))
    for c in range(a, b)
]
CONTEXTS = ("{}", "a{}a", " {}x ", "ơ{}", "{}\u0301", "A{}B")


@pytest.mark.parametrize("context", CONTEXTS)
def test_column_folding_and_canonical_form_agree_with_the_register_on_every_latin_character(context):
    values = [context.format(char) for char in LATIN]
    assert folded_values(pa.array(values)).to_pylist() == [fold(v) for v in values]
    assert canonical_values(pa.array(values)).to_pylist() == [canonical(v) for v in values]


def test_column_folding_agrees_with_the_register_in_every_script():
    sample = [chr(c) + "a" for c in range(0x250, 0x3400) if not 0xD800 <= c < 0xE000]
    sample += [chr(c) for c in range(0x10000, sys.maxunicode, 97)]
    assert folded_values(pa.array(sample)).to_pylist() == [fold(v) for v in sample]
    assert canonical_values(pa.array(sample)).to_pylist() == [canonical(v) for v in sample]


@given(st.lists(st.text(alphabet=VIETNAMESE + AWKWARD + " ", max_size=20), max_size=10))
def test_column_text_functions_agree_with_the_register_on_mixed_text(values):
    column = pa.array(values, pa.string())
    folded = folded_values(column)
    assert folded.to_pylist() == [fold(v) for v in values]
    assert canonical_values(column).to_pylist() == [canonical(v) for v in values]
    assert foreign_order_values(folded).to_pylist() == [foreign_order(fold(v)) for v in values]
