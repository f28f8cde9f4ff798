"""Blocking: which pairs of records are scored, each once, without a missing value ever agreeing."""

from __future__ import annotations

from typing import Any

import numpy as np

from popreg.matching.blocking import BLOCKING_RULES, candidate_pairs
from popreg.matching.records import records_of
from popreg.matching.scoring import encode


def person(**fields: Any) -> dict[str, Any]:
    return {"full_name": "Nguyễn Văn An", "birth_date": "1990-05-12", "sex": "M", **fields}


def pairs(rows: list[dict[str, Any]], **options: Any) -> list[tuple[int, int]]:
    first, second = candidate_pairs(encode(records_of(rows)), **options)
    return sorted(zip(first.tolist(), second.tolist(), strict=True))


def test_a_pair_that_several_rules_find_is_scored_once() -> None:
    # Same date of birth, family name, given name, year, words of the name and identifier: six rules hold.
    rows = [person(identifier="012345678"), person(identifier="012345678")]

    assert pairs(rows) == [(0, 1)]


def test_records_that_agree_on_no_rule_are_not_compared() -> None:
    rows = [person(), person(full_name="Trần Thị Bình", birth_date="1991-01-01")]

    assert pairs(rows) == []


def test_a_missing_value_agrees_with_nothing() -> None:
    # No date of birth on either side: the family name alone blocks nothing, nor two missing dates.
    rows = [person(birth_date=None), person(birth_date=None, full_name="Nguyễn Văn Bình")]
    same_date_no_name = [person(full_name=""), person(full_name="")]

    assert pairs(rows) == []
    assert pairs(same_date_no_name) == []


def test_each_kind_of_defect_is_caught_by_a_rule() -> None:
    base = person(address="Số 12 phố Đội Cấn", postcode="10000", locality="Ba Đình")
    rows = [
        base,
        {**base, "full_name": "Nguyễn Văn Anh"},  # misspelt given name: date and family name
        {**base, "full_name": "Ngyen Văn An"},  # misspelt family name: date and given name
        {**base, "birth_date": "1990-12-05"},  # day and month exchanged: name and year
        {**base, "full_name": "An Nguyễn Văn"},  # given name first: words of the name and year
        {**base, "full_name": "Ngyen Văn Anh", "birth_date": "1970-01-01"},  # name and date wrong: postcode
    ]

    assert pairs(rows[:2]) == [(0, 1)]
    assert pairs([rows[0], rows[2]]) == [(0, 1)]
    assert pairs([rows[0], rows[3]]) == [(0, 1)]
    assert pairs([rows[0], rows[4]]) == [(0, 1)]
    assert pairs([rows[0], rows[5]]) == [(0, 1)]
    assert pairs([{**rows[0], "postcode": None, "locality": None}, {**rows[5], "postcode": None}]) == []


def test_deduplication_puts_the_record_of_lower_rank_first_and_finds_every_pair_of_a_group() -> None:
    rows = [person(), person(), person()]

    assert pairs(rows, rank=np.array([2, 0, 1])) == [(1, 0), (1, 2), (2, 0)]


def test_linkage_pairs_the_left_file_with_the_right_and_never_two_records_of_one_file() -> None:
    rows = [person(), person(), person(), person(full_name="Lê Thị Hoa"), person()]

    assert pairs(rows, left_size=2) == [(0, 2), (0, 4), (1, 2), (1, 4)]


def test_the_rules_are_written_for_splink_as_sql() -> None:
    assert BLOCKING_RULES[0].sql == "l.birth_days = r.birth_days AND l.family = r.family"
