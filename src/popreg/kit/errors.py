"""Domain errors: each has a stable code, a message a person can act on, and an HTTP status.

The API turns every one of them into the same JSON body::

    {"error": {"code": "PIN_INVALID_STRUCTURE", "message": "...", "details": {...}}}

so an integrator can branch on ``code`` and show ``message``. Codes never change once published.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused an operation. Nothing was stored."""

    status_code: int = 400
    code: str = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(DomainError):
    status_code = 422
    code = "INPUT_INVALID"


class NotFound(DomainError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(DomainError):
    status_code = 409
    code = "CONFLICT"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "AUTH_REQUIRED"


class Forbidden(DomainError):
    status_code = 403
    code = "FORBIDDEN"
