"""Sign-in for officials: a session token for the API (the console uses the same sessions)."""

from __future__ import annotations

from fastapi import APIRouter

from popreg.kit.errors import NotAuthenticated
from popreg.kit.http import DatabaseDep, SessionDep, SettingsDep
from popreg.officials import service
from popreg.officials.dependencies import BearerToken, CurrentOfficial
from popreg.officials.schemas import LoginIn, OfficialRead, TokenRead

router = APIRouter(prefix="/api/v1/auth", tags=["officials"])


@router.post("/token", operation_id="official_login", response_model=TokenRead)
def login(data: LoginIn, database: DatabaseDep, settings: SettingsDep) -> TokenRead:
    """Exchange an official's username and password for a session token.

    Send the token as `Authorization: Bearer <token>` on every other call. Five wrong passwords
    lock the account for 15 minutes (`AUTH_ACCOUNT_LOCKED`).
    """
    refused: NotAuthenticated | None = None
    with database.unit_of_work() as session:
        try:
            issued = service.authenticate(
                session, username=data.username, password=data.password, session_hours=settings.session_hours
            )
        except NotAuthenticated as error:
            refused = error  # the failure counter is still committed
    if refused is not None:
        raise refused
    return TokenRead(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/logout", operation_id="official_logout", status_code=204)
def logout(session: SessionDep, official: CurrentOfficial, token: BearerToken) -> None:
    """End the current session; its token stops working at once."""
    service.end_session(session, token=token)


@router.get("/me", operation_id="official_me", response_model=OfficialRead)
def me(official: CurrentOfficial) -> OfficialRead:
    """The signed-in official, their role and jurisdiction."""
    return OfficialRead(
        username=official.username,
        display_name=official.display_name,
        role=official.role,
        jurisdiction_code=official.jurisdiction_code,
    )
