"""The sync channel's pure rules: identifier formats, demographic-match decisions, contradictions in a
batch, and the fingerprint that tells a replay from a reused key."""

from __future__ import annotations

import pytest

from popreg.kit.errors import InvalidInput
from popreg.sync.rules import (
    Outcome,
    body_hash,
    canonical_value,
    check_field_names,
    contradictions,
    decide_match,
    denied_fields,
    normalise_identifier,
)


@pytest.mark.parametrize(
    ("scheme", "value", "stored"),
    [
        ("social_insurance_number", " 0123456789 ", "0123456789"),
        ("health_insurance_card_number", "dn4010123456789", "DN4010123456789"),
        ("health_insurance_card_number", "0123456789", "0123456789"),
        ("tax_code", "0101234567-001", "0101234567-001"),
        ("tax_code", "001190012345", "001190012345"),
        ("driving_licence_number", "012345678901", "012345678901"),
    ],
)
def test_identifiers_in_their_agency_format_are_stored_trimmed_and_upper_case(scheme, value, stored):
    assert normalise_identifier(scheme, value) == stored


@pytest.mark.parametrize(
    ("scheme", "value"),
    [
        ("social_insurance_number", "012345678"),
        ("social_insurance_number", 123),
        ("health_insurance_card_number", "DN6010123456789"),
        ("tax_code", "01012345"),
        ("driving_licence_number", "01234567890A"),
    ],
)
def test_identifiers_out_of_format_are_refused_with_their_field(scheme, value):
    with pytest.raises(InvalidInput) as refused:
        normalise_identifier(scheme, value)
    assert (refused.value.code, refused.value.details["field"]) == ("SYNC_INVALID_VALUE", scheme)


def test_a_field_the_channel_does_not_write_is_unknown_and_one_outside_the_policy_is_denied():
    with pytest.raises(InvalidInput) as refused:
        check_field_names(["tax_code", "blood_group"])
    assert refused.value.details["fields"] == ["blood_group"]
    assert denied_fields(["tax_code", "death_date"], frozenset({"tax_code"})) == ["death_date"]


@pytest.mark.parametrize(
    ("candidates", "outcome", "person_id"),
    [
        ([(7, 0.99)], Outcome.APPLIED, 7),
        ([(7, 0.99), (8, 0.30)], Outcome.APPLIED, 7),
        ([(8, 0.30), (7, 0.97)], Outcome.APPLIED, 7),
        ([(7, 0.99), (8, 0.60)], Outcome.QUEUED, None),
        ([(7, 0.80)], Outcome.QUEUED, None),
        ([(7, 0.40)], Outcome.REJECTED, None),
        ([], Outcome.REJECTED, None),
    ],
)
def test_a_demographic_match_is_applied_only_when_one_candidate_stands_out(candidates, outcome, person_id):
    decision = decide_match(candidates)
    assert (decision.outcome, decision.person_id) == (outcome, person_id)


def test_updates_setting_one_field_of_one_person_differently_are_contradictions():
    writes = [
        (0, 1, "tax_code", canonical_value("0101234567")),
        (1, 1, "tax_code", canonical_value(" 0101234567")),
        (2, 2, "tax_code", canonical_value("0101234567")),
        (3, 2, "tax_code", canonical_value("0109999999")),
        (4, 2, "death_date", canonical_value("2026-01-01")),
    ]
    assert contradictions(writes) == {2, 3}


def test_the_fingerprint_ignores_key_order_but_not_values():
    first = {"a": 1, "fields": {"x": "1", "y": "2"}}
    assert body_hash(first) == body_hash({"fields": {"y": "2", "x": "1"}, "a": 1})
    assert body_hash(first) != body_hash({"a": 1, "fields": {"x": "1", "y": "3"}})
