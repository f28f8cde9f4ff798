"""Mounts the console's pages and static files on the application."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from popreg.cards.pages import router as card_pages
from popreg.matching.pages import router as duplicates_pages
from popreg.officials.pages import router as officials_pages
from popreg.quality.pages import router as quality_pages
from popreg.registry.pages import router as registry_pages
from popreg.sharing.pages import pages_router as sharing_pages
from popreg.sync.pages import router as sync_pages
from popreg.web.errors import install_error_pages

STATIC_DIRECTORY = Path(__file__).parent / "static"


def mount_console(app: FastAPI) -> None:
    """Register the console's routes (pages of every package), its static files and its error pages.

    Everything the browser loads is served from here: the console works on a network with no
    internet access.
    """
    app.mount("/static", StaticFiles(directory=STATIC_DIRECTORY), name="static")
    for router in (
        officials_pages,
        registry_pages,
        card_pages,
        sharing_pages,
        quality_pages,
        sync_pages,
        duplicates_pages,
    ):
        app.include_router(router)
    install_error_pages(app)
