"""The FastAPI application: the one place where every router is registered."""

from __future__ import annotations

from fastapi import FastAPI

from popreg import __version__
from popreg.cards.api import router as cards_router
from popreg.kit.apidocs import mount_api_docs
from popreg.kit.database import Database
from popreg.kit.http import BodySizeLimit, install_error_handlers
from popreg.kit.settings import Settings, get_settings
from popreg.officials.api import router as officials_router
from popreg.registry.api import router as registry_router
from popreg.registry.pin import SerialPermutation
from popreg.units.api import router as units_router
from popreg.web.app import mount_console
from popreg.wiring import configure

API_DESCRIPTION = """
The national population register of popreg: persons and their personal identification numbers
(PINs), family relations, households, residence registrations and the full history of every change.

**Authentication.** Officials obtain a session token from `POST /api/v1/auth/token` and send it as
`Authorization: Bearer <token>`. Every operation is limited to the official's jurisdiction (a commune,
a province or the nation); auditors read but never change.

**Errors.** Every refusal has the body `{"error": {"code": "...", "message": "...", "details": {...}}}`
with a stable `code` (for example `PIN_INVALID_STRUCTURE`, `JURISDICTION_DENIED`,
`RESIDENCE_PERMANENT_EXISTS`) and a message a person can act on. A refused request changes nothing.
"""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the application for the given settings (read from ``POPREG_*`` variables by default)."""
    settings = settings or get_settings()
    configure()
    app = FastAPI(
        title="popreg national population register",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "register", "description": "Persons, residences, households and history."},
            {"name": "cards", "description": "Citizen identity cards: lifecycle, MRZ, rendering, offline checks."},
            {"name": "officials", "description": "Sign-in for officials."},
            {"name": "reference", "description": "Administrative units, ethnic groups, PIN checks."},
        ],
    )
    app.state.settings = settings
    app.state.database = database or Database(
        settings.database_url, read_url=settings.read_database_url, pool_size=settings.database_pool_size
    )
    app.state.pin_permutation = SerialPermutation(settings.pin_key.get_secret_value().encode())
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    for router in (officials_router, registry_router, cards_router, units_router):
        app.include_router(router)

    @app.get("/health", operation_id="health", tags=["reference"])
    def health() -> dict[str, str]:
        """Liveness and database reachability."""
        from sqlalchemy import text

        with app.state.database.read_session() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "database": app.state.database.backend, "version": __version__}

    mount_api_docs(app)
    mount_console(app)
    return app
