"""``popreg audit``: check the integrity of the access log."""

from __future__ import annotations

import json

import typer

from popreg.audit.service import verify_log
from popreg.kit.database import Database
from popreg.kit.settings import get_settings

app = typer.Typer(help="The tamper-evident access log.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Recompute the hash chain and every items digest; report each broken entry (seq, kind); exit 1 if any."""
    database = Database(get_settings().database_url)
    with database.read_session() as session:
        report = verify_log(session)
    typer.echo(
        json.dumps(
            {
                "intact": report.intact,
                "entries_checked": report.entries_checked,
                "problems": [{"seq": p.seq, "kind": p.kind, "message": p.message} for p in report.problems],
            },
            ensure_ascii=False,
        )
    )
    raise typer.Exit(0 if report.intact else 1)
