"""Officials' accounts, passwords (Argon2id) and sessions."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from popreg.kit.clock import utc_now
from popreg.kit.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from popreg.officials.models import Official, OfficialSession
from popreg.officials.rules import OfficialPrincipal, Role, check_role_jurisdiction
from popreg.units.catalogue import UnitGeneration, get_unit

_hasher = PasswordHasher()
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this hash when the user does not exist keeps the timing of a failed login
    the same whether or not the username exists (made on first use: hashing costs 0.2 s, which every
    ``popreg`` command would otherwise pay at start-up)."""
    return _hasher.hash("not-a-real-password")


@dataclass(frozen=True, slots=True)
class IssuedSession:
    token: str
    csrf_token: str
    expires_at: datetime
    principal: OfficialPrincipal


def to_principal(official: Official) -> OfficialPrincipal:
    return OfficialPrincipal(
        id=official.id,
        username=official.username,
        display_name=official.display_name,
        role=Role(official.role),
        jurisdiction_code=official.jurisdiction_code,
    )


def create(
    session: Session,
    *,
    username: str,
    password: str,
    display_name: str,
    role: Role,
    jurisdiction_code: str | None,
) -> Official:
    """Create an official account; the jurisdiction must be a current unit of the right level."""
    username = username.strip().lower()
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(
            "A username uses letters, digits, '.', '_' or '-' (at most 64).", code="OFFICIAL_USERNAME_INVALID"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A password has at least {MIN_PASSWORD_LENGTH} characters.", code="OFFICIAL_PASSWORD_TOO_SHORT"
        )
    check_role_jurisdiction(role, jurisdiction_code)
    if jurisdiction_code is not None and get_unit(jurisdiction_code, UnitGeneration.Y2025) is None:
        raise InvalidInput(f"Unit {jurisdiction_code} is not a current province or commune.", code="UNIT_UNKNOWN")
    if session.execute(select(Official.id).where(Official.username == username)).first():
        raise Conflict(f"The username {username} is taken.", code="OFFICIAL_USERNAME_TAKEN")
    official = Official(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=_hasher.hash(password),
        role=role.value,
        jurisdiction_code=jurisdiction_code,
        active=True,
        failed_logins=0,
        created_at=utc_now(),
    )
    session.add(official)
    session.flush()
    return official


def get_by_username(session: Session, *, username: str) -> Official:
    official = session.execute(select(Official).where(Official.username == username.strip().lower())).scalar()
    if official is None:
        raise NotFound(f"No official named {username}.", code="OFFICIAL_NOT_FOUND")
    return official


def principal_of_actor(session: Session, *, actor: str) -> OfficialPrincipal:
    """The official named by an event's ``actor`` (``official:<username>``), so that a package reacting
    to another's domain event writes its own history under the same actor and agency. Another actor
    (or an official since removed) acts with national reach under its own name."""
    kind, _, username = actor.partition(":")
    if kind == "official" and username:
        try:
            return to_principal(get_by_username(session, username=username))
        except NotFound:
            pass
    return OfficialPrincipal(id=0, username=actor, display_name=actor, role=Role.NATIONAL_ADMIN, jurisdiction_code=None)


def authenticate(session: Session, *, username: str, password: str, session_hours: int) -> IssuedSession:
    """Check a password and open a session. Five failures lock the account for 15 minutes.

    The failure counter is written even though the login fails, so the caller must commit on
    :class:`NotAuthenticated` too (the API and console do).
    """
    now = utc_now()
    official = session.execute(
        select(Official).where(Official.username == username.strip().lower()).with_for_update()
    ).scalar()
    refused = NotAuthenticated("The username or password is wrong.", code="AUTH_INVALID_CREDENTIALS")
    if official is None or not official.active:
        _verify(_dummy_hash(), password)
        raise refused
    if official.locked_until is not None and official.locked_until > now:
        raise NotAuthenticated(
            "Too many failed logins: the account is locked for 15 minutes.", code="AUTH_ACCOUNT_LOCKED"
        )
    if not _verify(official.password_hash, password):
        official.failed_logins += 1
        if official.failed_logins >= MAX_FAILED_LOGINS:
            official.locked_until = now + LOCKOUT
            official.failed_logins = 0
        session.flush()
        raise refused
    official.failed_logins = 0
    official.locked_until = None
    if _hasher.check_needs_rehash(official.password_hash):
        official.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = now + timedelta(hours=session_hours)
    session.add(
        OfficialSession(
            token_hash=_token_hash(token),
            official_id=official.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
            revoked=False,
        )
    )
    session.flush()
    return IssuedSession(token=token, csrf_token=csrf, expires_at=expires, principal=to_principal(official))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ActiveSession:
    principal: OfficialPrincipal
    csrf_token: str


def resolve_session(session: Session, *, token: str) -> ActiveSession:
    """The official behind a bearer token or console cookie, if the session is still valid."""
    row = session.execute(
        select(OfficialSession, Official)
        .join(Official, Official.id == OfficialSession.official_id)
        .where(OfficialSession.token_hash == _token_hash(token))
    ).first()
    if row is None:
        raise NotAuthenticated("Sign in first: the session token is unknown.", code="AUTH_SESSION_INVALID")
    stored, official = row
    if stored.revoked or stored.expires_at <= utc_now() or not official.active:
        raise NotAuthenticated("The session has ended; sign in again.", code="AUTH_SESSION_EXPIRED")
    return ActiveSession(principal=to_principal(official), csrf_token=stored.csrf_token)


def end_session(session: Session, *, token: str) -> None:
    session.execute(
        update(OfficialSession).where(OfficialSession.token_hash == _token_hash(token)).values(revoked=True)
    )
