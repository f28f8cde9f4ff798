"""The FastAPI application: the one place where every router is registered."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from popreg import __version__
from popreg.audit.group_commit import GroupCommitLog
from popreg.cards.api import router as cards_router
from popreg.kit.apidocs import mount_api_docs
from popreg.kit.database import Database
from popreg.kit.http import BodySizeLimit, install_error_handlers
from popreg.kit.settings import Settings, get_settings
from popreg.matching.review_api import router as duplicates_router
from popreg.officials.api import router as officials_router
from popreg.quality.api import router as quality_router
from popreg.registry.api import router as registry_router
from popreg.registry.pin import SerialPermutation
from popreg.sharing.api import router as partners_router
from popreg.sharing.bulk import BulkRunner
from popreg.sharing.bulk_api import BULK_PATH, MAX_UPLOAD_BYTES, bulk_router
from popreg.sharing.gate import PartnerGate
from popreg.sharing.gateway import Gateway, GatewayRoutes, openapi_paths
from popreg.sharing.lookup import FactsLookup
from popreg.sharing.partner_http import partner_token, partner_token_scheme
from popreg.sharing.reads_api import consents_router, reads_router
from popreg.sharing.signing import AnswerSigner
from popreg.sharing.verify_api import router as verify_router
from popreg.sync.api import reviews_router as sync_reviews_router
from popreg.sync.api import updates_router as sync_updates_router
from popreg.sync.dispatch import DispatcherRunner
from popreg.sync.events_api import router as events_router
from popreg.sync.file_jobs import FILES_PATH as SYNC_FILES_PATH
from popreg.sync.file_jobs import FileJobRunner
from popreg.sync.file_jobs_api import files_router as sync_files_router
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Counted, because tests may serve one application through two clients at once.
        if app.state.serving == 0:
            app.state.gateway.start()
            app.state.bulk_runner.start()
            app.state.sync_file_runner.start()
            if app.state.event_dispatcher is not None:
                app.state.event_dispatcher.start()
        app.state.serving += 1
        try:
            yield
        finally:
            app.state.serving -= 1
            if app.state.serving == 0:
                if app.state.event_dispatcher is not None:
                    app.state.event_dispatcher.close()
                app.state.sync_file_runner.close()
                app.state.bulk_runner.close()
                app.state.gateway.close()

    app = FastAPI(
        lifespan=lifespan,
        title="popreg national population register",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "register", "description": "Persons, residences, households and history."},
            {"name": "cards", "description": "Citizen identity cards: lifecycle, MRZ, rendering, offline checks."},
            {"name": "officials", "description": "Sign-in for officials."},
            {
                "name": "verification",
                "description": "Query and verify for partner agencies and businesses: signed answers, "
                "batch and bulk verification, reads with consent or legal basis.",
            },
            {"name": "partners", "description": "Partners, their policies and credentials; access tokens."},
            {"name": "consents", "description": "Citizens' consents to partners, and who used a person's data."},
            {"name": "sync", "description": "Agencies' updates to the register (idempotent) and their review queue."},
            {"name": "events", "description": "Subscribers of the register's change events; dead letters."},
            {"name": "quality", "description": "Data-quality measures: correct, complete, clean, live."},
            {"name": "reference", "description": "Administrative units, ethnic groups, PIN checks."},
        ],
    )
    app.state.settings = settings
    app.state.serving = 0
    app.state.database = database or Database(
        settings.database_url, read_url=settings.read_database_url, pool_size=settings.database_pool_size
    )
    app.state.pin_permutation = SerialPermutation(settings.pin_key.get_secret_value().encode())
    gate = PartnerGate(app.state.database, settings)
    app.state.partner_gate = gate
    app.state.gateway = Gateway(
        gate=gate,
        signer=AnswerSigner.from_settings(settings),
        log=GroupCommitLog(app.state.database.url),
        lookup=FactsLookup(settings.read_database_url or app.state.database.url),
        refresh_seconds=settings.gateway_refresh_seconds,
    )
    retention = timedelta(hours=settings.job_result_retention_hours)
    app.state.bulk_runner = BulkRunner(
        app.state.database, directory=Path(settings.bulk_directory), result_retention=retention
    )
    app.state.sync_file_runner = FileJobRunner(
        app.state.database, directory=Path(settings.bulk_directory) / "sync-files", result_retention=retention
    )
    app.state.event_dispatcher = (
        DispatcherRunner(app.state.database, settings) if settings.events_dispatch_in_serve else None
    )
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit, path_limits={BULK_PATH: MAX_UPLOAD_BYTES, SYNC_FILES_PATH: settings.sync_file_max_bytes}
    )
    app.add_middleware(GatewayRoutes, gateway=app.state.gateway)
    for router in (
        officials_router,
        registry_router,
        cards_router,
        units_router,
        verify_router,
        partners_router,
        reads_router,
        consents_router,
        bulk_router,
        quality_router,
        events_router,
        sync_updates_router,
        sync_files_router,
        sync_reviews_router,
        duplicates_router,
    ):
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
    _describe_hot_routes(app)
    return app


def _describe_hot_routes(app: FastAPI) -> None:
    """Add the verification routes, which are answered in front of FastAPI, to the OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            paths, components = openapi_paths()
            document.setdefault("paths", {}).update(paths)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(components)
            schemes = document["components"].setdefault("securitySchemes", {})
            schemes[partner_token.scheme_name] = partner_token_scheme()
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def serving_app() -> FastAPI:
    """The application as ``popreg serve`` runs it, one per worker process.

    Everything built at start-up (modules, routes, the ORM's mappers, caches) lives as long as the
    process, yet each of the collector's full passes would walk it again: it is frozen out of them
    (``gc.freeze``), after one collection so that no start-up garbage is kept for ever. In the sync
    benchmark, passes over long-lived objects took a fifth of the CPU of each batch of 1,000 updates.
    """
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
