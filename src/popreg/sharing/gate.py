"""The gate every gateway request passes: who the partner is (its access token) and whether its policy
lets it do this now (operation, fields, purpose, rate, daily quota).

On the hot path nothing touches the database: a token seen before costs a dictionary lookup and an
expiry check, the policy comes from an in-memory snapshot, and the limits are counters in this process.
:meth:`PartnerGate.refresh` (run every ``POPREG_GATEWAY_REFRESH_SECONDS`` by the gateway, in a thread)
reloads every policy and status and shares the usage counts with the other serving processes.

Consequences an administrator should know:

- A change made through the admin API or CLI of this process takes effect at once here
  (:meth:`PartnerGate.invalidate`); the other processes see it within the refresh interval (2 s by
  default). That is the longest a suspended partner can still be served somewhere.
- The rate limit is a token bucket per partner and process, refilled at ``rate_per_second`` divided by
  ``POPREG_GATEWAY_WORKERS``, holding at most ``burst`` requests. A request that costs more than the
  burst (a batch) passes when the bucket is full and leaves it in debt.
- The daily quota counts admitted requests (their cost) per Vietnamese calendar day. Each process adds
  its own count since the last refresh to the shared total read then, so with several processes a
  partner can exceed its quota by at most what the others admitted in one refresh interval.
- Retiring a key does not end the access tokens issued with it: they stay valid until they expire
  (``POPREG_ACCESS_TOKEN_MINUTES``). Suspension ends them at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Final

from popreg.kit.clock import VIETNAM
from popreg.kit.database import Database
from popreg.kit.errors import DomainError, Forbidden, NotAuthenticated
from popreg.kit.settings import Settings
from popreg.sharing import repository
from popreg.sharing.credentials import access_token_key, read_access_token
from popreg.sharing.models import Partner, PartnerPolicy

MAX_CACHED_TOKENS: Final = 100_000


class TooManyRequests(DomainError):
    """A limit of the partner's policy was reached; ``details.retry_after_seconds`` says when to retry."""

    status_code = 429
    code = "RATE_LIMITED"


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """A partner's status and policy as this process last loaded them."""

    partner_id: str
    kind: str  # "agency" | "business"
    status: str  # "active" | "suspended"
    operations: frozenset[str]  # subset of {"verify", "read", "sync", "events"}
    verify_fields: frozenset[str]
    read_fields: frozenset[str]
    purposes: frozenset[str]
    daily_quota: int
    rate_per_second: float
    burst: int
    version: int
    write_fields: frozenset[str] = frozenset()  # operation sync: the fields the agency may write


@dataclass(frozen=True, slots=True)
class PartnerContext:
    """The authenticated partner of one request. ``scope`` narrows the policy's operations to those the
    access token was issued for (None: the policy alone decides)."""

    partner_id: str
    kind: str
    policy: PolicySnapshot
    token_id: str
    scope: frozenset[str] | None = None


def snapshot_of(partner: Partner, policy: PartnerPolicy) -> PolicySnapshot:
    return PolicySnapshot(
        partner_id=partner.id,
        kind=partner.kind,
        status=partner.status,
        operations=frozenset(policy.operations),
        verify_fields=frozenset(policy.verify_fields),
        read_fields=frozenset(policy.read_fields),
        write_fields=frozenset(policy.write_fields),
        purposes=frozenset(policy.purposes),
        daily_quota=policy.daily_quota,
        rate_per_second=policy.rate_per_second,
        burst=policy.burst,
        version=policy.version,
    )


class TokenBucket:
    """A token bucket: holds at most ``capacity`` tokens, refilled at ``rate`` per second."""

    __slots__ = ("tokens", "updated")

    def __init__(self, *, capacity: float, now: float) -> None:
        self.tokens = float(capacity)
        self.updated = now

    def take(self, cost: int, *, rate: float, capacity: float, now: float) -> float:
        """Take ``cost`` tokens and return 0, or take nothing and return the seconds until it would pass.

        A cost above the capacity passes when the bucket is full and leaves it negative (in debt), so
        large requests are admitted at the same long-run rate as small ones.
        """
        tokens = min(capacity, self.tokens + (now - self.updated) * rate)
        self.updated = now
        needed = min(cost, capacity)
        if tokens < needed:
            self.tokens = tokens
            return (needed - tokens) / rate
        self.tokens = tokens - cost
        return 0.0


class _CachedToken:
    """A verified access token and the context last built from it."""

    __slots__ = ("context", "expires_at", "partner_id", "scope", "token_id")

    def __init__(self, *, partner_id: str, token_id: str, expires_at: float, scope: frozenset[str]) -> None:
        self.partner_id = partner_id
        self.token_id = token_id
        self.expires_at = expires_at
        self.scope = scope
        self.context: PartnerContext | None = None


def _day_bounds(wall: float) -> tuple[date, float]:
    """The Vietnamese calendar day at ``wall`` (seconds since 1970) and the instant it ends."""
    day = datetime.fromtimestamp(wall, VIETNAM).date()
    return day, datetime.combine(day + timedelta(days=1), clock_time.min, VIETNAM).timestamp()


class PartnerGate:
    """Authentication and authorisation of partners for one serving process. Thread-safe."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._key = access_token_key(settings.secret_key.get_secret_value())
        self._workers = settings.gateway_workers
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time: each flushes what the last one did not
        self._tokens: dict[str, _CachedToken] = {}
        self._policies: dict[str, PolicySnapshot] = {}
        self._buckets: dict[str, TokenBucket] = {}
        # Quota: the totals of every process at the last refresh (for self._day), and what this process
        # admitted since, per day, until a refresh has added it to the shared counts.
        self._day, self._day_ends = _day_bounds(time.time())
        self._shared: dict[str, int] = {}
        self._pending: dict[date, dict[str, int]] = {self._day: {}}
        # Invalidation: a counter and, per partner, its value at the partner's last invalidation, so a
        # load that started before an invalidation never stores what it read.
        self._invalidations = 0
        self._invalidated_at: dict[str, int] = {}
        self._all_invalidated_at = -1

    # The hot path ----------------------------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> PartnerContext:
        """The partner behind an ``Authorization: Bearer <access token>`` header value.

        Refusals: ``PARTNER_TOKEN_MISSING`` (no bearer token), ``PARTNER_TOKEN_INVALID`` (not a token we
        issued, or altered), ``PARTNER_TOKEN_EXPIRED``, ``PARTNER_SUSPENDED``.
        """
        if not authorization:
            raise _token_missing()
        cached = self._tokens.get(authorization)
        if cached is None:
            cached = self._verify(authorization)
        if cached.expires_at <= time.time():
            with self._lock:
                self._tokens.pop(authorization, None)
            raise NotAuthenticated(
                "The access token has expired: get a new one from POST /api/v1/oauth/token.",
                code="PARTNER_TOKEN_EXPIRED",
            )
        policy = self._policies.get(cached.partner_id) or self._load(cached.partner_id)
        if policy is None:
            raise _token_invalid()
        if policy.status != "active":
            raise Forbidden(
                "The partner is suspended: ask the administrator of the national database.",
                code="PARTNER_SUSPENDED",
            )
        context = cached.context
        if context is None or context.policy is not policy:
            context = PartnerContext(
                partner_id=cached.partner_id,
                kind=policy.kind,
                policy=policy,
                token_id=cached.token_id,
                scope=cached.scope,
            )
            cached.context = context
        return context

    def authorise(
        self, context: PartnerContext, *, operation: str, fields: Iterable[str], purpose: str | None, cost: int = 1
    ) -> None:
        """Whether the partner's policy allows this request now; if so, it is counted. ``purpose`` None:
        the operation has none (``sync``: each update states its legal basis).

        Refusals, in this order: ``POLICY_OPERATION_DENIED``, ``POLICY_FIELD_DENIED`` (``details.fields``
        names the fields outside the policy), ``POLICY_PURPOSE_DENIED``, ``QUOTA_EXHAUSTED`` and
        ``RATE_LIMITED`` (both with ``details.retry_after_seconds``). A refused request is not counted.
        """
        policy = context.policy
        if operation not in policy.operations or (context.scope is not None and operation not in context.scope):
            raise Forbidden(
                f"Your policy does not allow the operation '{operation}'.",
                code="POLICY_OPERATION_DENIED",
                details={"operation": operation},
            )
        asked = fields if isinstance(fields, tuple | list | frozenset | set) else tuple(fields)
        if operation == "verify":
            allowed = policy.verify_fields
        else:
            allowed = policy.write_fields if operation == "sync" else policy.read_fields
        if not allowed.issuperset(asked):
            denied = sorted(set(asked) - allowed)
            raise Forbidden(
                f"Your policy does not allow these fields for '{operation}': {', '.join(denied)}.",
                code="POLICY_FIELD_DENIED",
                details={"fields": denied},
            )
        if purpose is not None and purpose not in policy.purposes:
            raise Forbidden(
                f"Your policy does not allow the purpose '{purpose}'.",
                code="POLICY_PURPOSE_DENIED",
                details={"purpose": purpose},
            )
        self._count(policy, cost)

    def _count(self, policy: PolicySnapshot, cost: int) -> None:
        partner_id = policy.partner_id
        now, wall = time.monotonic(), time.time()
        with self._lock:
            if wall >= self._day_ends:
                self._start_day(wall)
            pending = self._pending[self._day]
            admitted = pending.get(partner_id, 0)
            remaining = policy.daily_quota - self._shared.get(partner_id, 0) - admitted
            if cost > remaining:
                raise TooManyRequests(
                    f"The daily quota of {policy.daily_quota} requests has {max(0, remaining)} left, not enough "
                    "for this request; it renews at midnight (Vietnam time).",
                    code="QUOTA_EXHAUSTED",
                    details={
                        "retry_after_seconds": max(1, math.ceil(self._day_ends - wall)),
                        "daily_quota": policy.daily_quota,
                        "remaining": max(0, remaining),
                    },
                )
            bucket = self._buckets.get(partner_id)
            if bucket is None:
                bucket = self._buckets[partner_id] = TokenBucket(capacity=policy.burst, now=now)
            rate = policy.rate_per_second / self._workers
            wait = bucket.take(cost, rate=rate, capacity=policy.burst, now=now)
            if wait > 0:
                raise TooManyRequests(
                    f"Too many requests: your policy allows {policy.rate_per_second:g} per second.",
                    code="RATE_LIMITED",
                    details={"retry_after_seconds": max(1, math.ceil(wait))},
                )
            pending[partner_id] = admitted + cost

    # Cache misses ----------------------------------------------------------------------------------------

    def _verify(self, authorization: str) -> _CachedToken:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _token_missing()
        claims = read_access_token(token.strip(), self._key)
        if claims is None:
            raise _token_invalid()
        cached = _CachedToken(
            partner_id=claims.sub,
            token_id=claims.jti,
            expires_at=float(claims.exp),
            scope=frozenset(claims.scope.split()),
        )
        with self._lock:
            if len(self._tokens) >= MAX_CACHED_TOKENS:
                self._evict_tokens(time.time())
            self._tokens[authorization] = cached
        return cached

    def _evict_tokens(self, wall: float) -> None:
        """Drop expired tokens, then the oldest ones, until a tenth of the cache is free (lock held)."""
        self._evict_expired_tokens(wall)
        while len(self._tokens) >= MAX_CACHED_TOKENS * 0.9:
            del self._tokens[next(iter(self._tokens))]

    def _load(self, partner_id: str) -> PolicySnapshot | None:
        """One partner's policy from the database (after an invalidation, or before the first refresh)."""
        started = self._invalidations
        with self._database.unit_of_work() as session:
            row = repository.partner_with_policy(session, partner_id=partner_id)
        if row is None:
            return None
        snapshot = snapshot_of(*row)
        with self._lock:
            if not self._changed_since(partner_id, started):
                self._policies[partner_id] = snapshot
        return snapshot

    def _changed_since(self, partner_id: str, started: int) -> bool:
        return max(self._all_invalidated_at, self._invalidated_at.get(partner_id, -1)) >= started

    # Background work -------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload every partner's status and policy; add this process's admitted requests to the shared
        daily counts (an atomic upsert, safe with any number of processes) and read back the totals.

        Blocking: run it in a thread. If the database fails, the previous policies stay in force and the
        counts are kept for the next refresh.
        """
        with self._refreshing:
            self._refresh()

    def _refresh(self) -> None:
        wall = time.time()
        with self._lock:
            if wall >= self._day_ends:
                self._start_day(wall)
            started, day = self._invalidations, self._day
            flushing = {(partner, on): n for on, counts in self._pending.items() for partner, n in counts.items()}
        with self._database.unit_of_work() as session:
            repository.add_usage(session, counts=flushing)
            policies = {
                partner.id: snapshot_of(partner, policy)
                for partner, policy in repository.partners_with_policies(session)
            }
            totals = repository.usage_on(session, day=day)
        with self._lock:
            for (partner, on), flushed in flushing.items():
                counts = self._pending[on]
                left = counts[partner] - flushed
                if left:
                    counts[partner] = left
                else:
                    del counts[partner]
            for on in [on for on, counts in self._pending.items() if on != self._day and not counts]:
                del self._pending[on]
            if day == self._day:
                self._shared = totals
            self._policies = {
                partner: snapshot for partner, snapshot in policies.items() if not self._changed_since(partner, started)
            }
            self._evict_expired_tokens(wall)

    def _evict_expired_tokens(self, wall: float) -> None:
        """Forget the tokens that have expired (lock held)."""
        for key in [key for key, token in self._tokens.items() if token.expires_at <= wall]:
            del self._tokens[key]

    def invalidate(self, partner_id: str | None = None) -> None:
        """Forget a partner's policy (every partner's with None): the next request reloads it."""
        with self._lock:
            self._invalidations += 1
            if partner_id is None:
                self._all_invalidated_at = self._invalidations
                self._policies = {}
            else:
                self._invalidated_at[partner_id] = self._invalidations
                self._policies.pop(partner_id, None)

    def _start_day(self, wall: float) -> None:
        """A new Vietnamese day: the shared counts were yesterday's (lock held)."""
        self._day, self._day_ends = _day_bounds(wall)
        self._shared = {}
        self._pending.setdefault(self._day, {})

    def usage(self, partner_id: str) -> int:
        """Requests of the partner admitted today as this process knows it (shared total + own since)."""
        with self._lock:
            return self._shared.get(partner_id, 0) + self._pending.get(self._day, {}).get(partner_id, 0)


def _token_missing() -> NotAuthenticated:
    return NotAuthenticated(
        "Send an access token as 'Authorization: Bearer <token>' (POST /api/v1/oauth/token).",
        code="PARTNER_TOKEN_MISSING",
    )


def _token_invalid() -> NotAuthenticated:
    return NotAuthenticated(
        "The access token is not valid (altered, or not issued by this platform): get a new one.",
        code="PARTNER_TOKEN_INVALID",
    )
