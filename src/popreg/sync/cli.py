"""``popreg sync``: the operator feeds an agency's file of updates through the sync channel.

Works on ``POPREG_DATABASE_URL``; each chunk is logged in the access log as ``system``/``cli:...``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import get_settings
from popreg.sync import bulk_import

app = typer.Typer(help="Inbound updates from agencies (sync channel).", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def sync() -> None:
    """Inbound updates from agencies: files of updates fed through the sync channel."""


@app.command("import")
def import_updates(
    file: Annotated[Path, typer.Argument(help="A CSV (UTF-8, header line) or Parquet file of updates.")],
    source: Annotated[str, typer.Option(help="The agency (partner id) whose updates these are.")],
    results: Annotated[Path, typer.Option(help="Where to write one outcome per row (CSV).")],
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help=f"COLUMN=TARGET, repeatable. Targets: {', '.join(bulk_import.TARGETS)}."),
    ] = None,
    legal_basis: Annotated[str, typer.Option(help="Legal basis of the rows without a legal_basis column.")] = "",
    observed_at: Annotated[
        str, typer.Option(help="When the agency observed the rows without an observed_at column (ISO 8601, zoned).")
    ] = "",
) -> None:
    """Apply a file of an agency's updates, 1,000 rows per transaction. Run it again after an
    interruption: the rows done are answered from their idempotency keys and never applied twice."""
    database = Database(get_settings().database_url)
    try:
        report = bulk_import.import_file(
            database,
            file,
            partner_id=source,
            mapping=bulk_import.parse_mapping(mapping or []),
            defaults={"legal_basis": legal_basis, "observed_at": observed_at},
            results=results,
        )
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    summary = ", ".join(f"{key} {count}" for key, count in sorted(report.outcomes.items()))
    console.print(f"{report.rows} rows: {summary or 'none'}. Outcomes in {results}.")
