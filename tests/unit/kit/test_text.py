import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from popreg.kit.text import canonical, fold, split_full_name, strip_diacritics, title_name, unify_tone_placement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nguyễn Thị Hoà", "nguyen thi hoa"),
        ("NGUYỄN THỊ HÒA", "nguyen thi hoa"),
        ("  nguyen   thi  hoa ", "nguyen thi hoa"),
        ("Đặng Văn Đức", "dang van duc"),
        ("đắk lắk", "dak lak"),
        ("Bà Rịa - Vũng Tàu", "ba ria vung tau"),
        ("Trương Ngọc Ánh", "truong ngoc anh"),
        ("Lò Thị Ơn", "lo thi on"),
    ],
)
def test_fold_removes_diacritics_case_and_spacing(text, expected):
    assert fold(text) == expected


def test_fold_treats_decomposed_and_precomposed_input_alike():
    precomposed = "Nguyễn Thị Ánh"
    decomposed = unicodedata.normalize("NFD", precomposed)
    assert decomposed != precomposed
    assert fold(decomposed) == fold(precomposed)
    assert canonical(decomposed) == precomposed


def test_d_with_stroke_is_folded_although_unicode_does_not_decompose_it():
    assert unicodedata.normalize("NFD", "đ") == "đ"
    assert strip_diacritics("Đoàn Đình") == "Doan Dinh"


def test_canonical_keeps_the_name_exactly_as_registered_but_for_invisible_differences():
    assert canonical(" Nguyễn  Thị   Hoà ") == "Nguyễn Thị Hoà"


def test_old_and_new_tone_placement_compare_equal_after_unification():
    assert unify_tone_placement("Hoà Thuỵ") == unify_tone_placement("Hòa Thụy") == "Hòa Thụy"


def test_vietnamese_names_split_family_first_given_last():
    assert split_full_name("Nguyễn Thị Minh Khai") == ("Nguyễn", "Thị Minh", "Khai")
    assert split_full_name("Lê Lợi") == ("Lê", "", "Lợi")
    assert split_full_name("H'Hen") == ("", "", "H'Hen")


def test_title_name_capitalises_each_word():
    assert title_name("NGUYỄN thị ánh") == "Nguyễn Thị Ánh"


@given(st.text(max_size=60))
def test_fold_is_idempotent_and_never_raises(text):
    once = fold(text)
    assert fold(once) == once
    assert once == once.strip()
    assert "  " not in once
