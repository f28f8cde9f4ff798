from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from popreg.kit.text import canonical, fold, split_full_name
from popreg.registry.import_rules import canonical_column, fold_column, split_names, validate

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
NAME_TEXT = st.text(alphabet=VIETNAMESE + VIETNAMESE.upper() + " -'.", max_size=40)
TODAY = date(2026, 6, 1)


@given(st.lists(NAME_TEXT, max_size=20))
def test_column_folding_agrees_with_the_register_fold(names):
    assert fold_column(pa.array(names, pa.string())).to_pylist() == [fold(name) for name in names]


@given(st.lists(NAME_TEXT.filter(lambda n: canonical(n)), max_size=20))
def test_column_name_splitting_agrees_with_the_register_split(names):
    canon = canonical_column(pa.array(names, pa.string()))
    family, middle, given_name = split_names(canon)
    expected = [split_full_name(name) for name in names]
    assert list(zip(family.to_pylist(), middle.to_pylist(), given_name.to_pylist(), strict=True)) == expected


def rows(**columns):
    base = {"pin": ["001090012345"], "full_name": ["Nguyễn Văn An"], "birth_date": ["1990-05-12"], "sex": ["M"]}
    base.update({k: [v] for k, v in columns.items()})
    return pa.table(base)


def test_a_good_row_is_normalised():
    result = validate(
        rows(sex="Nam", ethnicity_code="1", religion_code="", nationality="vnm"), first_row_number=1, today=TODAY
    )
    assert result.rejects.num_rows == 0
    row = result.valid.to_pylist()[0]
    assert (row["sex"], row["ethnicity_code"], row["religion_code"], row["nationality"]) == ("M", "01", "none", "VNM")
    assert (row["family_name"], row["middle_name"], row["given_name"]) == ("Nguyễn", "Văn", "An")
    assert row["birth_registration_code"] == "001"


@pytest.mark.parametrize(
    ("columns", "code", "column"),
    [
        ({"pin": "00109001234"}, "PIN_INVALID_STRUCTURE", "pin"),
        ({"pin": "not-a-pin"}, "PIN_INVALID_STRUCTURE", "pin"),
        ({"pin": "001x90012345"}, "PIN_INVALID_STRUCTURE", "pin"),
        ({"pin": "099090012345"}, "PIN_UNKNOWN_PROVINCE", "pin"),
        ({"pin": "001290012345"}, "PIN_BIRTH_YEAR_MISMATCH", "pin"),
        ({"sex": "F"}, "PIN_SEX_MISMATCH", "pin"),
        ({"sex": "X"}, "SEX_INVALID", "sex"),
        ({"full_name": "Nguyen 3"}, "NAME_INVALID", "full_name"),
        ({"full_name": "   "}, "NAME_INVALID", "full_name"),
        ({"birth_date": "12/05/1990"}, "DATE_INVALID", "birth_date"),
        ({"birth_date": "1990-02-30"}, "DATE_INVALID", "birth_date"),
        ({"pin": "001227012345", "birth_date": "2027-01-01"}, "BIRTH_DATE_IN_FUTURE", "birth_date"),
        ({"ethnicity_code": "77"}, "ETHNICITY_UNKNOWN", "ethnicity_code"),
        ({"religion_code": "jedi"}, "RELIGION_UNKNOWN", "religion_code"),
        ({"unit_code": "00004"}, "RESIDENCE_INCOMPLETE", "address_line"),
        ({"unit_code": "99999", "address_line": "Số 1"}, "UNIT_UNKNOWN", "unit_code"),
        ({"life_status": "deceased"}, "DATE_INVALID", "life_status_date"),
        ({"life_status": "deceased", "life_status_date": "1980-01-01"}, "DATE_INVALID", "life_status_date"),
    ],
)
def test_each_bad_value_is_rejected_with_its_column_and_code(columns, code, column):
    result = validate(rows(**columns), first_row_number=7, today=TODAY)
    assert result.valid.num_rows == 0
    assert result.rejects.to_pylist()[0]["code"] == code
    assert result.rejects.to_pylist()[0]["column_name"] == column
    assert result.rejects.to_pylist()[0]["row_number"] == 7


def test_a_pre_reform_address_resolves_to_its_current_commune():
    result = validate(
        rows(address_line="Số 3 Phúc Xá", unit_code="00001", unit_generation="pre2025"), first_row_number=1, today=TODAY
    )
    row = result.valid.to_pylist()[0]
    assert row["unit_generation"] == "pre2025"
    assert row["province_code"] == "01"
    assert row["commune_code"] not in (None, "00001")


def test_a_place_of_origin_is_checked_against_its_own_generation_of_units():
    old_district = validate(
        rows(origin_unit_code="001", origin_unit_generation="pre2025"), first_row_number=1, today=TODAY
    )
    assert old_district.rejects.num_rows == 0
    assert old_district.valid["origin_unit_generation"].to_pylist() == ["pre2025"]
    current_province = validate(rows(origin_unit_code="01"), first_row_number=1, today=TODAY)
    assert current_province.valid["origin_unit_generation"].to_pylist() == ["2025"]
    unknown = validate(rows(origin_unit_code="001"), first_row_number=1, today=TODAY)
    assert unknown.rejects["code"].to_pylist() == ["UNIT_UNKNOWN"]
