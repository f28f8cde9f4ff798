"""The gate's limits without a database: the token bucket, and the policy checks of ``authorise``."""

from __future__ import annotations

from typing import Any

import pytest

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import Profile, Settings
from popreg.sharing.gate import PartnerContext, PartnerGate, PolicySnapshot, TokenBucket

KEY = "unit-test-secret-key-of-32-characters!"


def test_a_full_bucket_admits_the_burst_at_once_then_refuses():
    bucket = TokenBucket(capacity=3, now=0.0)

    waits = [bucket.take(1, rate=1.0, capacity=3, now=0.0) for _ in range(4)]

    assert waits == [0.0, 0.0, 0.0, 1.0]


def test_the_bucket_refills_at_the_rate_up_to_its_capacity():
    bucket = TokenBucket(capacity=2, now=0.0)
    bucket.take(1, rate=4.0, capacity=2, now=0.0)
    bucket.take(1, rate=4.0, capacity=2, now=0.0)

    assert bucket.take(1, rate=4.0, capacity=2, now=0.1) == pytest.approx(0.15)
    assert bucket.take(1, rate=4.0, capacity=2, now=0.25) == 0.0
    assert bucket.take(1, rate=4.0, capacity=2, now=100.0) == 0.0
    assert bucket.take(1, rate=4.0, capacity=2, now=100.0) == 0.0
    assert bucket.take(1, rate=4.0, capacity=2, now=100.0) > 0  # refilled to 2, never more


def test_a_refused_request_takes_nothing_from_the_bucket():
    bucket = TokenBucket(capacity=1, now=0.0)
    bucket.take(1, rate=1.0, capacity=1, now=0.0)

    for _ in range(5):
        assert bucket.take(1, rate=1.0, capacity=1, now=0.5) == pytest.approx(0.5)

    assert bucket.take(1, rate=1.0, capacity=1, now=1.0) == 0.0


def test_a_request_above_the_burst_passes_on_a_full_bucket_and_leaves_it_in_debt():
    bucket = TokenBucket(capacity=10, now=0.0)

    assert bucket.take(30, rate=10.0, capacity=10, now=0.0) == 0.0
    assert bucket.take(1, rate=10.0, capacity=10, now=0.0) == pytest.approx(2.1)  # 20 owed, then 1 more
    assert bucket.take(30, rate=10.0, capacity=10, now=2.0) == pytest.approx(1.0)  # needs a full bucket
    assert bucket.take(30, rate=10.0, capacity=10, now=3.0) == 0.0


def snapshot(**changes: Any) -> PolicySnapshot:
    values: dict[str, Any] = {
        "partner_id": "vietbank",
        "kind": "business",
        "status": "active",
        "operations": frozenset({"verify"}),
        "verify_fields": frozenset({"full_name", "birth_date"}),
        "read_fields": frozenset(),
        "purposes": frozenset({"account-opening"}),
        "daily_quota": 1_000,
        "rate_per_second": 1_000.0,
        "burst": 1_000,
        "version": 2,
    }
    return PolicySnapshot(**{**values, **changes})


@pytest.fixture
def gate() -> PartnerGate:
    """A gate whose database is never reached: ``authorise`` works from memory alone."""
    return PartnerGate(Database("sqlite://"), Settings(profile=Profile.TEST, secret_key=KEY, pin_key=KEY))


def context(**changes: Any) -> PartnerContext:
    return PartnerContext(partner_id="vietbank", kind="business", policy=snapshot(**changes), token_id="t-1")


def refused(gate: PartnerGate, context: PartnerContext, **request: Any) -> DomainError:
    values = {"operation": "verify", "fields": ("full_name",), "purpose": "account-opening", **request}
    with pytest.raises(DomainError) as raised:
        gate.authorise(context, **values)
    return raised.value


def test_fields_may_be_given_as_any_iterable(gate):
    allowed = context()

    gate.authorise(allowed, operation="verify", fields=iter(["full_name", "birth_date"]), purpose="account-opening")
    error = refused(gate, allowed, fields=(name for name in ["full_name", "sex"]))

    assert error.details == {"fields": ["sex"]}


def test_the_policy_is_checked_before_the_limits(gate):
    exhausted = context(daily_quota=0, operations=frozenset())

    assert refused(gate, exhausted).code == "POLICY_OPERATION_DENIED"
    assert refused(gate, context(daily_quota=0)).code == "QUOTA_EXHAUSTED"


def test_the_quota_is_checked_before_the_rate(gate):
    tight = context(daily_quota=1, burst=1, rate_per_second=0.001)
    gate.authorise(tight, operation="verify", fields=(), purpose="account-opening")

    assert refused(gate, tight).code == "QUOTA_EXHAUSTED"
    assert gate.usage("vietbank") == 1


def test_each_partner_has_its_own_bucket_and_count(gate):
    bank = context(burst=1, rate_per_second=0.001)
    telecom = PartnerContext(
        partner_id="mobitel", kind="business", policy=snapshot(partner_id="mobitel", burst=1), token_id="t-2"
    )
    gate.authorise(bank, operation="verify", fields=(), purpose="account-opening")

    gate.authorise(telecom, operation="verify", fields=(), purpose="account-opening")

    assert refused(gate, bank).code == "RATE_LIMITED"
    assert (gate.usage("vietbank"), gate.usage("mobitel")) == (1, 1)
