"""Typed dependencies that authenticate the official behind an API request.

The API takes only ``Authorization: Bearer <token>``: a browser's cookie is never accepted there, so
a page on another site cannot make a signed-in official's browser call the API (no CSRF surface).
The console reads the same kind of session token from its ``popreg_session`` cookie and protects
its forms with a per-session CSRF token (``popreg.web.session``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from popreg.kit.errors import NotAuthenticated
from popreg.kit.http import SessionDep
from popreg.officials import service
from popreg.officials.rules import OfficialPrincipal

SESSION_COOKIE = "popreg_session"
_bearer = HTTPBearer(auto_error=False, description="A session token from POST /api/v1/auth/token.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def bearer_token(credentials: BearerCredentials) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise NotAuthenticated(
            "Sign in first: send the session token as 'Authorization: Bearer <token>'.", code="AUTH_REQUIRED"
        )
    return credentials.credentials


BearerToken = Annotated[str, Depends(bearer_token)]


def current_official(session: SessionDep, token: BearerToken) -> OfficialPrincipal:
    return service.resolve_session(session, token=token).principal


CurrentOfficial = Annotated[OfficialPrincipal, Depends(current_official)]
