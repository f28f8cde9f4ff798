"""The canonical forms the access log is hashed in: old chains stay valid, new fields are covered."""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime

from popreg.audit.rules import GENESIS_HASH, LogContent, entry_hash, items_digest, stored_items_digest

# An entry as written before the gateway (no transaction id, no items). The expected hashes were
# computed by the code of that time; if one changes, every log written before it stops verifying.
OLD_READ = LogContent(
    seq=7,
    occurred_at=datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC),
    principal_kind="official",
    principal_id="ha.nguyen",
    action="person.read",
    person_pin="001203004567",
    fields="full_name,birth_date",
    purpose="official_duty",
    legal_basis="Luật Cư trú 2020, Điều 8",
    result="ok",
)
OLD_READ_HASH = "f8e0ff14b9a37238bb2788e36355e0ae80734d5d38cc1291b64b4e3f76a6a85d"

OLD_AWKWARD_TEXT = LogContent(
    seq=123456789012,
    occurred_at=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    principal_kind="partner",
    principal_id="bank-01",
    action="person.read",
    person_pin=None,
    fields="*",
    purpose='kiểm tra "KYC"\\/\n\t\x01\u2028 😀',
    legal_basis="",
    result="PIN_INVALID",
)
OLD_AWKWARD_TEXT_HASH = "cb162a014353d8f731a6d5a131e8d44a3958926e37a0df408b3d0889f2b50be9"


def test_an_entry_without_the_gateway_fields_hashes_as_it_did_before_them():
    assert entry_hash(GENESIS_HASH, OLD_READ) == OLD_READ_HASH


def test_escaped_and_non_ascii_text_hashes_as_it_did_before_the_gateway_fields():
    assert entry_hash("ab" * 32, OLD_AWKWARD_TEXT) == OLD_AWKWARD_TEXT_HASH


def test_each_gateway_field_is_covered_by_the_hash():
    hashes = {
        entry_hash(GENESIS_HASH, replace(OLD_READ, **change))
        for change in (
            {"transaction_id": "6f1c1f0e-7d4e-4a8e-9a53-2f2d8f0b1c3a"},
            {"item_count": 0},
            {"item_count": 1},
            {"items_digest": "0" * 64},
        )
    }
    assert len(hashes) == 4
    assert OLD_READ_HASH not in hashes


def test_the_items_digest_is_sha256_of_the_documented_json_form():
    documented = '[[0,"001203004567","match"],[1,null,"PIN_INVALID"]]'
    expected = hashlib.sha256(documented.encode()).hexdigest()
    assert items_digest([("001203004567", "match"), (None, "PIN_INVALID")]) == expected
    assert stored_items_digest([(0, "001203004567", "match"), (1, None, "PIN_INVALID")]) == expected


def test_the_items_digest_depends_on_the_order_of_the_items():
    items = [("001203004567", "match"), ("079198001234", "no_match")]
    assert items_digest(items) != items_digest(list(reversed(items)))


def test_a_large_item_list_digests_like_its_json_form_in_one_piece():
    items = [(f"{n:012d}", "match" if n % 3 else "no_match") for n in range(10_000)]
    whole = "[" + ",".join(f'[{n},"{pin}","{result}"]' for n, (pin, result) in enumerate(items)) + "]"
    assert items_digest(items) == hashlib.sha256(whole.encode()).hexdigest()
