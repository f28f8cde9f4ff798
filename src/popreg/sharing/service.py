"""Partners and their policies, keys and access tokens: the use cases of the admin API, the CLI and the
token endpoint.

Only a national administrator (or the operator at the command line) registers partners and changes
their policies, keys and status, and every change is written to the access log with who made it. The
gate of each serving process sees a change at once in the process that made it and within
``POPREG_GATEWAY_REFRESH_SECONDS`` in the others.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from popreg.audit import service as audit
from popreg.kit.clock import utc_now
from popreg.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from popreg.officials.rules import OfficialPrincipal, Role
from popreg.registry import service as registry
from popreg.sharing import repository
from popreg.sharing.credentials import (
    CLIENT_ASSERTION_TYPE,
    CLOCK_LEEWAY_SECONDS,
    GRANT_TYPE,
    INVALID_CLIENT,
    INVALID_REQUEST,
    INVALID_SCOPE,
    UNSUPPORTED_GRANT_TYPE,
    PublicKey,
    TokenRefused,
    check_assertion_claims,
    issue_access_token,
    public_key_from_jwk,
    read_unverified_assertion,
    verify_assertion_signature,
)
from popreg.sharing.models import Partner, PartnerKey, PartnerPolicy
from popreg.sharing.rules import VERIFIABLE_FIELDS
from popreg.sharing.schemas import (
    KeyRead,
    KeyStatus,
    PartnerCreate,
    PartnerKind,
    PartnerRead,
    PartnerStatus,
    PolicyIn,
    PolicyRead,
)
from popreg.sync.rules import WRITABLE_FIELDS

OPERATIONS: Final = ("verify", "read", "sync", "events")
# The attributes a partner may be allowed to read (eKYC) are those the register shares, with provenance.
READABLE_FIELDS: Final = registry.READABLE_FIELDS
MAX_ACTIVE_KEYS: Final = 5
_SLUG = re.compile(r"[a-z][a-z0-9-]{1,39}")
_PURPOSE = re.compile(r"[a-z][a-z0-9_-]{1,59}")
_ADMINISTRATION: Final = "partner administration"


@dataclass(frozen=True, slots=True)
class Administrator:
    """Who changes partners, as the access log names them: a national administrator, or the operator
    of the command line (``system``/``cli``), who holds the database credentials anyway."""

    principal_kind: str
    principal_id: str


CLI_OPERATOR: Final = Administrator(principal_kind="system", principal_id="cli")


def administrator(principal: OfficialPrincipal) -> Administrator:
    """Partners reach the data of the whole nation: only a national administrator manages them."""
    if principal.role is not Role.NATIONAL_ADMIN:
        raise Forbidden("Only a national administrator manages partners.", code="NATIONAL_ADMIN_REQUIRED")
    return Administrator(principal_kind="official", principal_id=principal.username)


def _record(
    session: Session, actor: Administrator, action: str, partner_id: str, *details: str, reason: str = ""
) -> None:
    audit.record_access(
        session,
        principal_kind=actor.principal_kind,
        principal_id=actor.principal_id,
        action=action,
        person_pin=None,
        fields=(f"partner={partner_id}", *details),
        purpose=_ADMINISTRATION,
        legal_basis=reason,
    )


# Policies (pure rules) ----------------------------------------------------------------------------------


def validate_policy(data: PolicyIn) -> PolicyIn:
    """A policy names only what exists: operations among ``verify``, ``read``, ``sync`` and ``events`` (an
    agency's subscriptions to change events), verifiable and readable attributes of the register, fields
    the sync channel writes, and purposes as short lower-case codes (``account-opening``). Lists are
    returned without repetitions, in a fixed order."""
    unknown_operations = sorted(set(data.operations) - set(OPERATIONS))
    if unknown_operations:
        raise InvalidInput(
            f"Unknown operations: {', '.join(unknown_operations)}; use verify, read, sync and/or events.",
            code="POLICY_OPERATION_UNKNOWN",
            details={"field": "operations", "unknown": unknown_operations},
        )
    unknown_fields = sorted(
        {f"verify_fields.{name}" for name in set(data.verify_fields) - set(VERIFIABLE_FIELDS)}
        | {f"read_fields.{name}" for name in set(data.read_fields) - set(READABLE_FIELDS)}
        | {f"write_fields.{name}" for name in set(data.write_fields) - set(WRITABLE_FIELDS)}
    )
    if unknown_fields:
        raise InvalidInput(
            f"Unknown fields: {', '.join(unknown_fields)}. Verifiable: {', '.join(VERIFIABLE_FIELDS)}. "
            f"Readable: {', '.join(READABLE_FIELDS)}. Writable: {', '.join(WRITABLE_FIELDS)}.",
            code="POLICY_FIELD_UNKNOWN",
            details={"unknown": unknown_fields},
        )
    invalid_purposes = sorted(purpose for purpose in set(data.purposes) if not _PURPOSE.fullmatch(purpose))
    if invalid_purposes:
        raise InvalidInput(
            "A purpose is a code of 2 to 60 lower-case letters, digits, '-' and '_', starting with a letter "
            f"(account-opening), not {', '.join(repr(purpose[:50]) for purpose in invalid_purposes)}.",
            code="POLICY_PURPOSE_INVALID",
            details={"field": "purposes", "invalid": invalid_purposes},
        )
    return data.model_copy(
        update={
            "operations": [name for name in OPERATIONS if name in data.operations],
            "verify_fields": [name for name in VERIFIABLE_FIELDS if name in data.verify_fields],
            "read_fields": [name for name in READABLE_FIELDS if name in data.read_fields],
            "write_fields": [name for name in WRITABLE_FIELDS if name in data.write_fields],
            "purposes": sorted(set(data.purposes)),
        }
    )


# Partners -----------------------------------------------------------------------------------------------


def get(session: Session, *, partner_id: str, for_update: bool = False) -> Partner:
    partner = repository.get_partner(session, partner_id=partner_id, for_update=for_update)
    if partner is None:
        raise NotFound(f"No partner {partner_id!r}.", code="PARTNER_NOT_FOUND")
    return partner


def get_all(session: Session) -> list[Partner]:
    return repository.list_partners(session)


def create(session: Session, *, actor: Administrator, data: PartnerCreate) -> Partner:
    """Register a partner. It starts active with a policy that allows nothing (version 1) and no key:
    set its policy and add its public key before it can get a token."""
    if not _SLUG.fullmatch(data.id):
        raise InvalidInput(
            "A partner id is 2 to 40 lower-case letters, digits and '-', starting with a letter (vietbank).",
            code="PARTNER_ID_INVALID",
            details={"field": "id"},
        )
    if repository.get_partner(session, partner_id=data.id) is not None:
        raise Conflict(f"A partner {data.id!r} already exists.", code="PARTNER_EXISTS")
    now = utc_now()
    partner = Partner(
        id=data.id,
        name=data.name.strip() or data.id,
        kind=data.kind.value,
        status=PartnerStatus.ACTIVE.value,
        suspension_reason=None,
        created_at=now,
        updated_at=now,
    )
    session.add(partner)
    session.flush()
    session.add(
        PartnerPolicy(
            partner_id=data.id,
            operations=[],
            verify_fields=[],
            read_fields=[],
            write_fields=[],
            purposes=[],
            daily_quota=0,
            rate_per_second=1.0,
            burst=1,
            version=1,
            updated_at=now,
        )
    )
    session.flush()
    _record(session, actor, "partner.create", data.id, f"kind={data.kind.value}")
    return partner


def set_policy(session: Session, *, actor: Administrator, partner_id: str, data: PolicyIn) -> PartnerPolicy:
    """Replace a partner's policy; its version grows by one. Requests already admitted are not affected."""
    get(session, partner_id=partner_id, for_update=True)
    policy = validate_policy(data)
    stored = repository.get_policy(session, partner_id=partner_id)
    if stored is None:  # every partner is created with one
        raise NotFound(f"Partner {partner_id!r} has no policy.", code="PARTNER_NOT_FOUND")
    if data.expected_version is not None and data.expected_version != stored.version:
        raise Conflict(
            f"The policy is at version {stored.version}, not {data.expected_version}: read it again.",
            code="VERSION_CONFLICT",
            details={"current_version": stored.version},
        )
    stored.operations = policy.operations
    stored.verify_fields = policy.verify_fields
    stored.read_fields = policy.read_fields
    stored.write_fields = policy.write_fields
    stored.purposes = policy.purposes
    stored.daily_quota = policy.daily_quota
    stored.rate_per_second = policy.rate_per_second
    stored.burst = policy.burst
    stored.version += 1
    stored.updated_at = utc_now()
    session.flush()
    _record(session, actor, "partner.policy", partner_id, f"version={stored.version}")
    return stored


def add_key(session: Session, *, actor: Administrator, partner_id: str, jwk: Mapping[str, Any]) -> PartnerKey:
    """Register a public key that verifies the partner's client assertions. A partner may hold up to five
    active keys: to rotate, add the new key, move the clients to it, then retire the old one."""
    get(session, partner_id=partner_id, for_update=True)
    public = public_key_from_jwk(jwk)
    if repository.get_key(session, partner_id=partner_id, kid=public.kid) is not None:
        raise Conflict(
            f"Partner {partner_id!r} already has a key {public.kid!r} (key ids are never reused).",
            code="PARTNER_KEY_EXISTS",
        )
    if repository.count_active_keys(session, partner_id=partner_id) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"A partner holds at most {MAX_ACTIVE_KEYS} active keys: retire one first.", code="PARTNER_KEY_LIMIT"
        )
    key = PartnerKey(
        partner_id=partner_id,
        kid=public.kid,
        public_jwk=json.dumps(public.jwk, sort_keys=True),
        alg=public.alg,
        status=KeyStatus.ACTIVE.value,
        created_at=utc_now(),
        retired_at=None,
    )
    session.add(key)
    session.flush()
    _record(session, actor, "partner.key.add", partner_id, f"kid={public.kid}", f"alg={public.alg}")
    return key


def retire_key(session: Session, *, actor: Administrator, partner_id: str, kid: str) -> PartnerKey:
    """A retired key verifies no new client assertion. Access tokens already issued with it stay valid
    until they expire (at most ``POPREG_ACCESS_TOKEN_MINUTES``); suspend the partner to stop them at once."""
    get(session, partner_id=partner_id, for_update=True)
    key = repository.get_key(session, partner_id=partner_id, kid=kid)
    if key is None:
        raise NotFound(f"Partner {partner_id!r} has no key {kid!r}.", code="PARTNER_KEY_NOT_FOUND")
    if key.status == KeyStatus.RETIRED.value:
        raise Conflict(f"Key {kid!r} is already retired.", code="PARTNER_KEY_ALREADY_RETIRED")
    key.status = KeyStatus.RETIRED.value
    key.retired_at = utc_now()
    session.flush()
    _record(session, actor, "partner.key.retire", partner_id, f"kid={kid}")
    return key


def suspend(session: Session, *, actor: Administrator, partner_id: str, reason: str) -> Partner:
    """Stop a partner: no new token, and its current tokens are refused (at once in this process, within
    the refresh interval in the others). The reason is kept and logged."""
    partner = get(session, partner_id=partner_id, for_update=True)
    if not reason.strip():
        raise InvalidInput("Give the reason of the suspension.", code="PARTNER_SUSPENSION_REASON_REQUIRED")
    if partner.status == PartnerStatus.SUSPENDED.value:
        raise Conflict(f"Partner {partner_id!r} is already suspended.", code="PARTNER_ALREADY_SUSPENDED")
    partner.status = PartnerStatus.SUSPENDED.value
    partner.suspension_reason = reason.strip()
    partner.updated_at = utc_now()
    session.flush()
    _record(session, actor, "partner.suspend", partner_id, reason=partner.suspension_reason)
    return partner


def resume(session: Session, *, actor: Administrator, partner_id: str) -> Partner:
    """Let a suspended partner work again; tokens issued before the suspension work again until they expire."""
    partner = get(session, partner_id=partner_id, for_update=True)
    if partner.status != PartnerStatus.SUSPENDED.value:
        raise Conflict(f"Partner {partner_id!r} is not suspended.", code="PARTNER_NOT_SUSPENDED")
    partner.status = PartnerStatus.ACTIVE.value
    partner.suspension_reason = None
    partner.updated_at = utc_now()
    session.flush()
    _record(session, actor, "partner.resume", partner_id)
    return partner


def views(session: Session, partners: Sequence[Partner]) -> list[PartnerRead]:
    """Partners with their policies and keys (public keys only: we never hold a private one)."""
    ids = [partner.id for partner in partners]
    policies = repository.policies_of(session, partner_ids=ids)
    keys = repository.keys_of(session, partner_ids=ids)
    return [
        PartnerRead(
            id=partner.id,
            name=partner.name,
            kind=PartnerKind(partner.kind),
            status=PartnerStatus(partner.status),
            suspension_reason=partner.suspension_reason,
            created_at=partner.created_at,
            updated_at=partner.updated_at,
            policy=_policy_view(policies[partner.id]),
            keys=[_key_view(key) for key in keys[partner.id]],
        )
        for partner in partners
    ]


def _policy_view(policy: PartnerPolicy) -> PolicyRead:
    return PolicyRead(
        operations=list(policy.operations),
        verify_fields=list(policy.verify_fields),
        read_fields=list(policy.read_fields),
        write_fields=list(policy.write_fields),
        purposes=list(policy.purposes),
        daily_quota=policy.daily_quota,
        rate_per_second=policy.rate_per_second,
        burst=policy.burst,
        version=policy.version,
        updated_at=policy.updated_at,
    )


def _key_view(key: PartnerKey) -> KeyRead:
    return KeyRead(
        kid=key.kid,
        alg=key.alg,
        status=KeyStatus(key.status),
        created_at=key.created_at,
        retired_at=key.retired_at,
        jwk=json.loads(key.public_jwk),
    )


# Access tokens (OAuth 2.0 client credentials with private_key_jwt) -------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """The form parameters of a token request, as sent (any of them may be missing)."""

    grant_type: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None
    scope: str | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    token_id: str
    partner_id: str
    expires_in: int
    scope: str


def issue_token(
    session: Session, *, request: TokenRequest, audiences: Sequence[str], token_key: bytes, lifetime_seconds: int
) -> IssuedToken:
    """Exchange a client assertion for an access token (RFC 6749 §4.4, RFC 7523 §2.2, OIDC Core §9).

    The assertion must be signed by one of the partner's active keys (found by ``kid``), name the
    partner in ``iss`` and ``sub`` and the token endpoint in ``aud``, live at most five minutes, and never
    have been used before. The attempt is written to the access log whatever the outcome (``token``,
    ``ok`` or the refusal's code): the caller commits on :class:`TokenRefused` too. Only a successful
    attempt stores anything else (the assertion's ``jti``).
    """
    principal = ("anonymous", "-")
    try:
        assertion = _checked_assertion(request)
        unverified = read_unverified_assertion(assertion)
        principal = ("anonymous", unverified.issuer[:120])
        if request.client_id is not None and request.client_id != unverified.issuer:
            raise TokenRefused(
                INVALID_CLIENT,
                "client_id, when sent, must be the client assertion's issuer.",
                code="PARTNER_ASSERTION_CLAIMS_INVALID",
            )
        partner = repository.get_partner(session, partner_id=unverified.issuer)
        if partner is None:
            raise TokenRefused(
                INVALID_CLIENT, f"No partner {unverified.issuer!r} is registered.", code="PARTNER_UNKNOWN"
            )
        key = _signing_key(session, partner_id=partner.id, kid=unverified.kid)
        claims = verify_assertion_signature(assertion, key)
        principal = ("partner", partner.id)
        now = time.time()
        checked = check_assertion_claims(claims, partner_id=partner.id, audiences=audiences, now=now)
        if partner.status != PartnerStatus.ACTIVE.value:
            raise TokenRefused(
                INVALID_CLIENT,
                "The partner is suspended: ask the administrator of the national database.",
                code="PARTNER_SUSPENDED",
            )
        policy = repository.get_policy(session, partner_id=partner.id)
        granted = _granted_scope(request.scope, policy.operations if policy else [])
        keep_until = datetime.fromtimestamp(checked.expires_at + CLOCK_LEEWAY_SECONDS, UTC)
        if not repository.remember_assertion(session, partner_id=partner.id, jti=checked.jti, expires_at=keep_until):
            raise TokenRefused(
                INVALID_CLIENT,
                "This client assertion was used before: sign a new one, with a new 'jti', for every request.",
                code="PARTNER_ASSERTION_REPLAYED",
            )
        repository.forget_expired_assertions(session, partner_id=partner.id, now=utc_now())
        token, access = issue_access_token(
            key=token_key,
            partner_id=partner.id,
            scope=granted,
            policy_version=policy.version if policy else 0,
            lifetime_seconds=lifetime_seconds,
            now=int(now),
        )
    except TokenRefused as refusal:
        _record_token_attempt(session, principal, result=refusal.code)
        raise
    _record_token_attempt(session, principal, result="ok")
    return IssuedToken(
        access_token=token,
        token_id=access.jti,
        partner_id=partner.id,
        expires_in=lifetime_seconds,
        scope=access.scope,
    )


def _checked_assertion(request: TokenRequest) -> str:
    """The client assertion of a well-formed client credentials request."""
    if not request.grant_type:
        raise TokenRefused(INVALID_REQUEST, "grant_type is required: client_credentials.", code="TOKEN_REQUEST_INVALID")
    if request.grant_type != GRANT_TYPE:
        raise TokenRefused(
            UNSUPPORTED_GRANT_TYPE,
            f"Only the client_credentials grant is supported, not {request.grant_type[:40]!r}.",
            code="TOKEN_GRANT_UNSUPPORTED",
        )
    if request.client_assertion_type != CLIENT_ASSERTION_TYPE:
        raise TokenRefused(
            INVALID_REQUEST,
            f"client_assertion_type must be {CLIENT_ASSERTION_TYPE} (private_key_jwt client authentication).",
            code="TOKEN_REQUEST_INVALID",
        )
    if not request.client_assertion:
        raise TokenRefused(
            INVALID_REQUEST, "client_assertion is required: a JWT signed with your key.", code="TOKEN_REQUEST_INVALID"
        )
    return request.client_assertion


def _signing_key(session: Session, *, partner_id: str, kid: str) -> PublicKey:
    stored = repository.get_key(session, partner_id=partner_id, kid=kid)
    if stored is None:
        raise TokenRefused(
            INVALID_CLIENT, f"Partner {partner_id!r} has no key {kid[:100]!r}.", code="PARTNER_KEY_UNKNOWN"
        )
    if stored.status != KeyStatus.ACTIVE.value:
        raise TokenRefused(
            INVALID_CLIENT,
            f"Key {kid!r} was retired: sign with one of the partner's active keys.",
            code="PARTNER_KEY_RETIRED",
        )
    return PublicKey(kid=stored.kid, alg=stored.alg, jwk=json.loads(stored.public_jwk))


def _granted_scope(requested: str | None, allowed: Sequence[str]) -> list[str]:
    """The operations the token will allow: those requested (all the policy allows when none are), each of
    which the policy must allow."""
    asked = (requested or "").split()
    refused = sorted(set(asked) - set(allowed))
    if refused:
        raise TokenRefused(
            INVALID_SCOPE,
            f"Your policy does not allow: {', '.join(name[:20] for name in refused[:5])}. Allowed: "
            f"{' '.join(allowed) or 'nothing yet'}.",
            code="TOKEN_SCOPE_INVALID",
        )
    return [name for name in OPERATIONS if name in (asked or allowed)]


def _record_token_attempt(session: Session, principal: tuple[str, str], *, result: str) -> None:
    audit.record_access(
        session,
        principal_kind=principal[0],
        principal_id=principal[1],
        action="token",
        person_pin=None,
        purpose="",
        result=result,
    )
