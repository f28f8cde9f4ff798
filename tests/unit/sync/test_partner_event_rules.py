"""What a partner's policy lets its event subscribers receive, and where a partner's webhook may be:
pure rules, no database."""

from __future__ import annotations

import pytest

from popreg.kit.errors import InvalidInput
from popreg.sharing.service import READABLE_FIELDS
from popreg.sync.events_rules import SUBSCRIBABLE_FIELDS, check_webhook_url, partner_allowance, partner_event_fields


def test_every_readable_attribute_gives_only_subscribable_event_fields():
    assert partner_event_fields(READABLE_FIELDS) <= set(SUBSCRIBABLE_FIELDS)


def test_a_names_parts_come_with_the_name_and_a_birth_dates_precision_with_the_date():
    assert partner_event_fields(["full_name"]) == {"full_name", "family_name", "middle_name", "given_name"}
    assert partner_event_fields(["birth_date"]) == {"birth_date", "birth_date_precision"}


def test_the_permanent_address_gives_no_residence_record_and_nothing_gives_cards_or_relations():
    every = partner_event_fields(READABLE_FIELDS)
    assert partner_event_fields(["permanent_address", "permanent_commune_code"]) == frozenset()
    assert not every & {"residences", "households", "relations", "cards", "birth_registration_code"}


@pytest.mark.parametrize(
    ("status", "kind", "operations", "waits"),
    [
        ("active", "agency", ["read", "events"], False),
        ("suspended", "agency", ["read", "events"], True),
        ("active", "agency", ["read", "sync"], True),
        ("active", "business", ["read", "events"], True),
    ],
)
def test_only_an_active_agency_with_the_events_operation_receives(
    status: str, kind: str, operations: list[str], waits: bool
):
    allowance = partner_allowance(status=status, kind=kind, operations=operations, read_fields=["sex"])
    assert allowance.receiving is not waits and (allowance.waiting is not None) is waits
    assert allowance.fields == {"sex"}


@pytest.mark.parametrize(
    "url", ["https://events.bhxh.example/popreg", "https://8.8.8.8:8443/hook", "https://[2606:4700::1111]/hook"]
)
def test_a_public_https_webhook_is_accepted(url: str):
    check_webhook_url(url, public_https=True)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://events.bhxh.example/popreg", "EVENT_WEBHOOK_HTTPS_REQUIRED"),
        ("https://127.1/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://0x7f.0.0.1/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://192.168.1.10/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://[fe80::1]/hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https://api.localhost./hook", "EVENT_WEBHOOK_URL_NOT_PUBLIC"),
        ("https:///hook", "EVENT_WEBHOOK_URL_INVALID"),
        ("https://events.example:port/", "EVENT_WEBHOOK_URL_INVALID"),
    ],
)
def test_a_partners_webhook_off_https_or_on_a_private_address_is_refused(url: str, code: str):
    with pytest.raises(InvalidInput) as refused:
        check_webhook_url(url, public_https=True)
    assert refused.value.code == code


def test_in_development_and_for_administrators_a_webhook_may_be_plain_http_on_this_machine():
    check_webhook_url("http://127.0.0.1:8080/hook", public_https=False)
    with pytest.raises(InvalidInput):
        check_webhook_url("ftp://127.0.0.1/hook", public_https=False)
