"""Mounts the console's pages and static files on the application."""

from __future__ import annotations

from fastapi import FastAPI


def mount_console(app: FastAPI) -> None:
    """Register the console's routes (pages of every package) on the app."""
