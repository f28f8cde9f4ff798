"""The one place where packages subscribe to each other's domain events (see ``kit.events``).

``configure()`` is called by the application factory and the CLI before any work is done; it is
idempotent.
"""

from __future__ import annotations


def configure() -> None:
    """Subscribe every package's handlers."""
