"""Partners' administration (national administrators) and the partners' token endpoint (``/api/v1``).

A change takes effect in this process's gate as soon as it is committed, and in the other serving
processes within ``POPREG_GATEWAY_REFRESH_SECONDS``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy import event
from sqlalchemy.orm import Session

from popreg.kit.http import SessionDep, SettingsDep
from popreg.officials.dependencies import CurrentOfficial
from popreg.sharing import service
from popreg.sharing.credentials import TokenRefused, access_token_key
from popreg.sharing.gate import PartnerGate
from popreg.sharing.schemas import (
    AccessTokenRead,
    KeyIn,
    KeyRead,
    PartnerCreate,
    PartnerList,
    PartnerRead,
    PolicyIn,
    SuspendIn,
    TokenErrorRead,
)

TOKEN_PATH = "/api/v1/oauth/token"  # noqa: S105 - a URL path, not a secret
router = APIRouter(prefix="/api/v1", tags=["partners"])
PartnerId = Annotated[str, Path(max_length=40, description="The partner's slug, e.g. vietbank.")]
KeyId = Annotated[str, Path(max_length=100, description="The key id ('kid') of the partner's key.")]
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def national_administrator(official: CurrentOfficial) -> service.Administrator:
    return service.administrator(official)


NationalAdministrator = Annotated[service.Administrator, Depends(national_administrator)]


def _reload_after_commit(request: Request, session: Session, partner_id: str) -> None:
    """Let this process's gate reload the partner once the change is committed (not before: a reload in
    between would keep the old state until the next refresh)."""
    gate: PartnerGate | None = getattr(request.app.state, "partner_gate", None)
    if gate is not None:
        event.listen(session, "after_commit", lambda _session: gate.invalidate(partner_id), once=True)


def _view(session: Session, partner_id: str) -> PartnerRead:
    return service.views(session, [service.get(session, partner_id=partner_id)])[0]


@router.post("/partners", operation_id="create_partner", response_model=PartnerRead, status_code=201)
def create_partner(data: PartnerCreate, session: SessionDep, actor: NationalAdministrator) -> PartnerRead:
    """Register a partner agency or business (national administrators only).

    It starts active with a policy that allows nothing: set its policy (`PUT .../policy`) and add its
    public key (`POST .../keys`) before it asks for a token. Refusals: `PARTNER_ID_INVALID`,
    `PARTNER_EXISTS`, `NATIONAL_ADMIN_REQUIRED`.
    """
    partner = service.create(session, actor=actor, data=data)
    return service.views(session, [partner])[0]


@router.get("/partners", operation_id="list_partners", response_model=PartnerList)
def list_partners(session: SessionDep, actor: NationalAdministrator) -> PartnerList:
    """Every partner with its status, policy and public keys."""
    return PartnerList(items=service.views(session, service.get_all(session)))


@router.get("/partners/{partner_id}", operation_id="get_partner", response_model=PartnerRead)
def get_partner(partner_id: PartnerId, session: SessionDep, actor: NationalAdministrator) -> PartnerRead:
    """One partner with its status, policy and public keys (`PARTNER_NOT_FOUND`)."""
    return _view(session, partner_id)


@router.put("/partners/{partner_id}/policy", operation_id="set_partner_policy", response_model=PartnerRead)
def set_partner_policy(
    partner_id: PartnerId, data: PolicyIn, request: Request, session: SessionDep, actor: NationalAdministrator
) -> PartnerRead:
    """Replace the partner's policy: operations (`verify`, `read`), the fields of each, the purposes
    (short codes such as `account-opening`), the daily quota (Vietnam time), the rate per second and the
    burst. Its version grows by one; send `expected_version` to refuse a change made meanwhile.

    Refusals: `POLICY_OPERATION_UNKNOWN`, `POLICY_FIELD_UNKNOWN`, `POLICY_PURPOSE_INVALID`,
    `VERSION_CONFLICT`, `PARTNER_NOT_FOUND`.
    """
    service.set_policy(session, actor=actor, partner_id=partner_id, data=data)
    _reload_after_commit(request, session, partner_id)
    return _view(session, partner_id)


@router.post("/partners/{partner_id}/keys", operation_id="add_partner_key", response_model=PartnerRead, status_code=201)
def add_partner_key(
    partner_id: PartnerId, data: KeyIn, session: SessionDep, actor: NationalAdministrator
) -> PartnerRead:
    """Register one of the partner's public keys (a JWK: EC P-256 for ES256, or Ed25519 for EdDSA).

    The key id is the JWK's `kid`, or its RFC 7638 thumbprint. To rotate keys without downtime, add the
    new key, move the clients to it, then retire the old one. Refusals: `PARTNER_KEY_PRIVATE` (never send
    the private key), `PARTNER_KEY_TYPE_UNSUPPORTED`, `PARTNER_KEY_INVALID`, `PARTNER_KEY_EXISTS`,
    `PARTNER_KEY_LIMIT`.
    """
    service.add_key(session, actor=actor, partner_id=partner_id, jwk=data.jwk)
    return _view(session, partner_id)


@router.post("/partners/{partner_id}/keys/{kid}/retire", operation_id="retire_partner_key", response_model=KeyRead)
def retire_partner_key(partner_id: PartnerId, kid: KeyId, session: SessionDep, actor: NationalAdministrator) -> KeyRead:
    """Retire a key: it verifies no new client assertion. Access tokens issued before stay valid until
    they expire (suspend the partner to stop them at once). Refusals: `PARTNER_KEY_NOT_FOUND`,
    `PARTNER_KEY_ALREADY_RETIRED`.
    """
    service.retire_key(session, actor=actor, partner_id=partner_id, kid=kid)
    return next(key for key in _view(session, partner_id).keys if key.kid == kid)


@router.post("/partners/{partner_id}/suspend", operation_id="suspend_partner", response_model=PartnerRead)
def suspend_partner(
    partner_id: PartnerId, data: SuspendIn, request: Request, session: SessionDep, actor: NationalAdministrator
) -> PartnerRead:
    """Suspend a partner, giving the reason: it gets no new token and its tokens are refused
    (`PARTNER_SUSPENDED`) at once by this server process, and within the refresh interval (2 seconds by
    default) by the others. Refusal: `PARTNER_ALREADY_SUSPENDED`.
    """
    service.suspend(session, actor=actor, partner_id=partner_id, reason=data.reason)
    _reload_after_commit(request, session, partner_id)
    return _view(session, partner_id)


@router.post("/partners/{partner_id}/resume", operation_id="resume_partner", response_model=PartnerRead)
def resume_partner(
    partner_id: PartnerId, request: Request, session: SessionDep, actor: NationalAdministrator
) -> PartnerRead:
    """Let a suspended partner work again (`PARTNER_NOT_SUSPENDED` if it is not suspended)."""
    service.resume(session, actor=actor, partner_id=partner_id)
    _reload_after_commit(request, session, partner_id)
    return _view(session, partner_id)


@router.post(
    "/oauth/token",
    operation_id="issue_partner_token",
    response_model=AccessTokenRead,
    responses={
        400: {"model": TokenErrorRead, "description": "invalid_request, unsupported_grant_type or invalid_scope."},
        401: {"model": TokenErrorRead, "description": "invalid_client: the client assertion was refused."},
    },
)
def issue_partner_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    grant_type: Annotated[str | None, Form(description="client_credentials")] = None,
    client_assertion_type: Annotated[
        str | None, Form(description="urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    ] = None,
    client_assertion: Annotated[
        str | None, Form(description="A JWT signed with one of your active keys (kid in its header).")
    ] = None,
    scope: Annotated[
        str | None, Form(description="Space-separated operations; all your policy allows if absent.")
    ] = None,
    client_id: Annotated[str | None, Form(description="Optional; your partner id if sent.")] = None,
) -> JSONResponse:
    """Get an access token for the gateway: OAuth 2.0 client credentials (RFC 6749 §4.4) with
    `private_key_jwt` client authentication (RFC 7523, OpenID Connect Core §9).

    Send a form (`application/x-www-form-urlencoded`) with `grant_type=client_credentials`,
    `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
    `client_assertion`: a JWT you sign with one of your registered keys (its `kid` in the header) with
    `iss` = `sub` = your partner id, `aud` = this endpoint's URL, a unique `jti`, `iat`, and `exp` at most
    5 minutes after `iat`. Each assertion can be used once (`PARTNER_ASSERTION_REPLAYED`).

    The answer is RFC 6749 §5.1 (`access_token`, `token_type` Bearer, `expires_in`, `scope`); a refusal is
    RFC 6749 §5.2 (`error`, `error_description`) with our stable `code`. Send the token as
    `Authorization: Bearer <access_token>` to the gateway until it expires, then ask for a new one.
    """
    try:
        issued = service.issue_token(
            session,
            request=service.TokenRequest(
                grant_type=grant_type,
                client_assertion_type=client_assertion_type,
                client_assertion=client_assertion,
                scope=scope,
                client_id=client_id,
            ),
            audiences=token_audiences(str(request.url.replace(query="")), request.app.state.settings.public_url),
            token_key=access_token_key(settings.secret_key.get_secret_value()),
            lifetime_seconds=settings.access_token_minutes * 60,
        )
    except TokenRefused as refusal:  # answered, and the attempt's log entry committed
        return JSONResponse(refusal.to_oauth(), status_code=refusal.status_code, headers=_NO_STORE)
    body = AccessTokenRead(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=issued.expires_in,
        scope=issued.scope,
    )
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


def token_audiences(request_url: str, public_url: str | None) -> list[str]:
    """The ``aud`` values a client assertion may carry: the URL the request came to and, behind a
    proxy that terminates TLS, the public URL of this endpoint (``POPREG_PUBLIC_URL``)."""
    audiences = [request_url]
    if public_url:
        audiences.append(public_url.rstrip("/") + TOKEN_PATH)
    return audiences
