"""The ``popreg`` command: one console script, a sub-command per area."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer
from rich.console import Console

from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.kit.settings import get_settings
from popreg.wiring import configure

# Each command group lives with its package and is imported only when it runs (or for the full
# help), so that a bulk command does not pay seconds of start-up for every other package.
GROUPS: dict[str, tuple[str, str]] = {
    "user": ("popreg.officials.cli", "app"),
    "pin": ("popreg.registry.cli", "app"),
    "audit": ("popreg.audit.cli", "app"),
    "card": ("popreg.cards.cli", "app"),
    "import": ("popreg.registry.cli", "import_app"),
    "export": ("popreg.registry.cli", "export_app"),
    "partner": ("popreg.sharing.cli", "app"),
    "quality": ("popreg.quality.cli", "app"),
    "events": ("popreg.sync.events_cli", "app"),
    "match": ("popreg.matching.cli", "app"),
    "sync": ("popreg.sync.cli", "app"),
}

core = typer.Typer(
    help="popreg: the national population-data platform.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
core.add_typer(db_app, name="db")
console = Console(stderr=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the schema of POPREG_DATABASE_URL to the newest revision."""
    settings = get_settings()
    upgrade(Database(settings.database_url), revision)
    console.print(f"Database schema is at {revision} ({settings.database_url.split('@')[-1]}).")


@core.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes; set POPREG_GATEWAY_WORKERS to the same number.")] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="Print a line per HTTP request. Every read of personal data is in the tamper-evident "
            "access log either way; at thousands of requests per second the printed lines cost CPU.",
        ),
    ] = True,
) -> None:
    """Serve the API (/api/v1, docs at /docs) and the officials' console (/console)."""
    import uvicorn

    uvicorn.run(
        "popreg.app:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
        access_log=access_log,
    )


@core.command("demo")
def demo(
    people: Annotated[int, typer.Option(help="Synthetic persons to generate.")] = 100_000,
    database_file: Annotated[str, typer.Option("--db", help="SQLite file of the demo.")] = "popreg-demo.db",
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 2024,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve when ready.")] = True,
) -> None:
    """Build a demo register (SQLite, synthetic population, demo officials) and serve it."""
    from popreg.demo import build_demo

    url = build_demo(database_file=database_file, people=people, seed=seed, console=console)
    if serve_after:
        import os

        os.environ["POPREG_DATABASE_URL"] = url
        get_settings.cache_clear()
        console.print(f"Console: http://127.0.0.1:{port}/console   API docs: http://127.0.0.1:{port}/docs")
        serve(host="127.0.0.1", port=port, workers=1)


_added: set[str] = set()


def build(only: str | None = None) -> typer.Typer:
    """The command with every group, or with the core commands and group ``only`` alone. Building again
    adds only the groups not yet added, so a partial command can grow into the whole one."""
    for name in (*GROUPS, "synth"):
        if (only is None or name == only) and name not in _added:
            _added.add(name)
            if name == "synth":
                core.command("synth")(importlib.import_module("popreg.synth.cli").synth)
            else:
                module, attribute = GROUPS[name]
                core.add_typer(getattr(importlib.import_module(module), attribute), name=name)
    return core


def __getattr__(name: str) -> typer.Typer:
    # ``from popreg.cli import app``: the whole command (tests drive it with Typer's runner).
    if name == "app":
        return _full()
    raise AttributeError(name)


def _full() -> typer.Typer:
    global _built
    if _built is None:
        _built = build()
    return _built


_built: typer.Typer | None = None


def main() -> None:
    configure()
    words = [word for word in sys.argv[1:] if not word.startswith("-")]
    first = words[0] if words else None
    (build(first) if first in (*GROUPS, "synth", "db", "serve", "demo") else _full())()
