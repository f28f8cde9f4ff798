"""The ``popreg`` command: one console script, a sub-command per area."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from popreg.audit.cli import app as audit_app
from popreg.cards.cli import app as card_app
from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.kit.settings import get_settings
from popreg.matching.cli import app as match_app
from popreg.officials.cli import app as user_app
from popreg.quality.cli import app as quality_app
from popreg.registry.cli import app as pin_app
from popreg.registry.cli import export_app, import_app
from popreg.sharing.cli import app as partner_app
from popreg.sync.cli import app as sync_app
from popreg.sync.events_cli import app as events_app
from popreg.synth.cli import synth
from popreg.wiring import configure

app = typer.Typer(
    help="popreg: the national population-data platform.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(pin_app, name="pin")
app.add_typer(audit_app, name="audit")
app.add_typer(card_app, name="card")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(partner_app, name="partner")
app.add_typer(quality_app, name="quality")
app.add_typer(events_app, name="events")
app.add_typer(match_app, name="match")
app.add_typer(sync_app, name="sync")
app.command("synth")(synth)
console = Console(stderr=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the schema of POPREG_DATABASE_URL to the newest revision."""
    settings = get_settings()
    upgrade(Database(settings.database_url), revision)
    console.print(f"Database schema is at {revision} ({settings.database_url.split('@')[-1]}).")


@app.command("serve")
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


@app.command("demo")
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


def main() -> None:
    configure()
    app()
