"""The rules of merging two records of one person, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from popreg.kit.errors import DomainError
from popreg.registry.merge_rules import MergeParty, check_merge, dates_may_agree, follow_chain
from popreg.registry.rules import DatePrecision, LifeStatus, PartialDate


def party(pin: str, *, sex: str = "F", born: str = "1990-05-12", status: LifeStatus = LifeStatus.ALIVE) -> MergeParty:
    return MergeParty(pin=pin, sex=sex, birth=PartialDate.parse(born), life_status=status)


def refusal(retired: MergeParty, surviving: MergeParty, *, allow: bool = False) -> str:
    with pytest.raises(DomainError) as raised:
        check_merge(retired, surviving, allow_identity_differences=allow)
    return raised.value.code


def test_a_year_of_birth_may_be_the_same_day_as_a_full_date_in_that_year_but_not_in_another():
    year = PartialDate(date(1990, 1, 1), DatePrecision.YEAR)
    assert dates_may_agree(year, PartialDate.parse("1990-12-31"))
    assert not dates_may_agree(year, PartialDate.parse("1991-01-01"))


def test_records_of_different_sex_need_an_explicit_override():
    retired, surviving = party("001190000001"), party("001090000002", sex="M")
    assert refusal(retired, surviving) == "MERGE_IDENTITY_DIFFERS"
    check_merge(retired, surviving, allow_identity_differences=True)


def test_a_record_is_not_merged_into_itself_nor_twice_nor_into_a_retired_one():
    first = party("001190000001")
    assert refusal(first, first) == "MERGE_SAME_PERSON"
    retired = MergeParty("001190000002", "F", PartialDate.parse("1990"), LifeStatus.MERGED, merged_into="001190000003")
    assert refusal(retired, first) == "MERGE_ALREADY_RETIRED"
    assert refusal(first, retired) == "MERGE_SURVIVOR_RETIRED"


def test_the_life_status_must_agree_even_with_the_override():
    dead = party("001190000001", status=LifeStatus.DECEASED)
    assert refusal(dead, party("001190000002"), allow=True) == "MERGE_LIFE_STATUS_DIFFERS"


def test_a_chain_of_merges_leads_to_its_last_record_and_a_loop_is_refused():
    chain = {"A": "B", "B": "C"}
    assert follow_chain("B", chain.get) == "C"
    loop = {"A": "B", "B": "A"}
    with pytest.raises(DomainError) as raised:
        follow_chain("B", loop.get)
    assert raised.value.code == "MERGE_CHAIN_BROKEN"
