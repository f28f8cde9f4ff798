"""Vietnamese names and addresses in the forms that matching compares."""

from __future__ import annotations

import unicodedata

import pytest

from popreg.matching.normalise import (
    current_commune,
    current_province,
    fold_name,
    initials_agree,
    name_order_variants,
    normalise_address,
    split_name,
)


def test_a_name_folds_the_same_from_any_unicode_form_case_or_diacritics() -> None:
    written = "Nguyễn Thị Hoà"
    assert fold_name(unicodedata.normalize("NFD", written)) == "nguyen thi hoa"
    assert fold_name("NGUYEN  THI HOA") == "nguyen thi hoa"
    assert fold_name("Đặng Đình Đức") == "dang dinh duc"


@pytest.mark.parametrize(
    ("written", "family", "middle", "given"),
    [
        ("Nguyễn Thị Minh Khai", "nguyen", "thi minh", "khai"),
        ("Hoa Nguyễn Thị", "nguyen", "thi", "hoa"),
        ("Minh Khai Nguyen Thi", "nguyen", "thi minh", "khai"),
        ("Lê Lợi", "le", "", "loi"),
        ("Sùng", "", "", "sung"),
    ],
)
def test_a_name_is_split_family_first_even_when_written_given_name_first(
    written: str, family: str, middle: str, given: str
) -> None:
    parts = split_name(written)
    assert (parts.family, parts.middle, parts.given) == (family, middle, given)


def test_the_orders_of_a_name_include_the_vietnamese_order() -> None:
    variants = name_order_variants("Khai Nguyễn Thị Minh")
    assert variants[0] == "khai nguyen thi minh"
    assert "nguyen thi minh khai" in variants
    assert split_name("Khai Nguyễn Thị Minh").key == split_name("Nguyễn Thị Minh Khai").key


def test_an_initial_agrees_with_the_full_middle_name_and_no_other() -> None:
    assert initials_agree(fold_name("T."), "thi")
    assert initials_agree("t m", "thi minh")
    assert not initials_agree("v", "thi")
    assert not initials_agree("thi", "t")
    assert not initials_agree("t", "thi minh")


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("Số 12, P.5, Q.3, TP.HCM", "số 12 Phường 05 Quận 3 Thành phố Hồ Chí Minh"),
        ("P5 Q10 Tp HCM", "Phường 5, Quận 10, Thành phố Hồ Chí Minh"),
        ("12 Đội Cấn, P. Ba Đình, TP. Hà Nội", "12 Đội Cấn Phường Ba Đình Thành phố Hà Nội"),
        ("TT. Đông Anh, H. Đông Anh", "Thị trấn Đông Anh, Huyện Đông Anh"),
        ("X. Tân Lập, TX. Sơn Tây", "Xã Tân Lập Thị xã Sơn Tây"),
    ],
)
def test_address_abbreviations_are_written_out(short: str, full: str) -> None:
    assert normalise_address(short) == normalise_address(full)


def test_an_address_keeps_the_words_that_are_not_abbreviations() -> None:
    assert normalise_address("Số 7 ngõ Huế, phường Phố Huế") == "so 7 ngo hue phuong pho hue"


def test_a_pre_2025_commune_maps_to_its_current_commune_and_province() -> None:
    # "00004" was Phường Trúc Bạch (Ba Đình district) before 1 July 2025; it is Phường Ba Đình now.
    assert current_commune("00004", "pre2025") == "00004"
    assert current_province("00004", "pre2025") == "01"
    # Phường Tân Định of the old Quận 1 (26734) is the current Phường Tân Định (26737) of province 79;
    # Phường Phúc Xá (00001) went into Phường Hồng Hà (00097).
    assert current_commune("26734", "pre2025") == "26737"
    assert current_province("26734", "pre2025") == "79"
    assert current_commune("00001", "pre2025") == "00097"
    assert current_commune("00097") == "00097"
    assert current_commune(None) is None
    assert current_commune("99999", "pre2025") is None
