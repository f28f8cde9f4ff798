"""Register commands: ``popreg pin check``, ``popreg import persons``, ``popreg export ...``."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from popreg.kit.database import Database
from popreg.kit.errors import InvalidInput
from popreg.kit.settings import get_settings
from popreg.registry.pin import Sex, check_pin

app = typer.Typer(help="Personal identification numbers (PINs).", no_args_is_help=True)


@app.command("check")
def check(
    pin: Annotated[str, typer.Argument(help="The 12-digit PIN.")],
    dob: Annotated[str | None, typer.Option("--dob", help="Date of birth YYYY-MM-DD to check against.")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="M or F, to check against.")] = None,
) -> None:
    """Check a PIN's structure and consistency; print one JSON object; exit 1 when not valid."""
    birth_date = None
    errors: list[str] = []
    if dob is not None:
        try:
            birth_date = date.fromisoformat(dob)
        except ValueError:
            errors.append("DOB_INVALID")
    sex_value = None
    if sex is not None:
        try:
            sex_value = Sex(sex.upper())
        except ValueError:
            errors.append("SEX_INVALID")
    result = dict(check_pin(pin, birth_date=birth_date, sex=sex_value).to_json_dict())
    if errors:
        result["valid"] = False
        result["errors"] = [*result["errors"], *errors]  # type: ignore[misc]
    typer.echo(json.dumps(result, ensure_ascii=False))
    raise typer.Exit(0 if result["valid"] else 1)


import_app = typer.Typer(help="Bulk imports into the register (CSV or Parquet).", no_args_is_help=True)
export_app = typer.Typer(help="Streaming exports of the register to Parquet.", no_args_is_help=True)


@import_app.command("persons")
def import_persons(
    file: Annotated[Path, typer.Argument(help="A CSV (UTF-8, header line) or Parquet file of persons.")],
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="COLUMN=FIELD for a column named differently, e.g. --map ho_ten=full_name."),
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where to write rejected rows (default FILE.rejects.csv).")
    ] = None,
    batch_rows: Annotated[int, typer.Option(min=1000, help="Rows per committed batch.")] = 100_000,
    defer_indexes: Annotated[
        bool,
        typer.Option(
            "--defer-indexes",
            help="Initial load: drop the secondary indexes during the load and rebuild them at the end "
            "(faster for large loads; searches are slow until it finishes).",
        ),
    ] = False,
) -> None:
    """Validate and load persons; resumable (run it again after a crash) and idempotent.

    Exit 0 when every row loaded, 1 when some rows were rejected (see the reject file),
    2 when the file cannot be imported at all.
    """
    from popreg.registry.importer import (
        ImportFailed,
        parse_mapping,
        summary_dict,
        write_reject_file,
    )
    from popreg.registry.importer import (
        import_persons as run_import,
    )

    database = Database(get_settings().database_url)
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[rate]:,.0f} rows/s"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(f"Importing {file.name}", total=None, rate=0.0)
            started = time.perf_counter()

            def report(done: int, _loaded: int, _rejected: int) -> None:
                progress.update(task, completed=done, rate=done / max(time.perf_counter() - started, 1e-6))

            summary = run_import(
                database,
                file,
                mapping=parse_mapping(mapping or []),
                batch_rows=batch_rows,
                progress=report,
                defer_indexes=defer_indexes,
            )
    except (ImportFailed, InvalidInput) as error:
        console.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(2) from None
    out = rejects or file.with_name(file.name + ".rejects.csv")
    written = write_reject_file(database, summary.job_id, out) if summary.rows_rejected else 0
    if summary.already_done:
        console.print("This file was imported already; nothing was loaded again.")
    console.print(
        f"{summary.rows_loaded:,} loaded, {summary.rows_rejected:,} rejected"
        + (f" (details in {out})" if written else "")
        + "."
    )
    typer.echo(json.dumps(summary_dict(summary), ensure_ascii=False))
    raise typer.Exit(1 if summary.rows_rejected else 0)


def _export_command(name: str) -> None:
    def command(
        out: Annotated[Path, typer.Option("--out", help="The Parquet file to write.")],
    ) -> None:
        from popreg.registry.export import export_table

        # An export reads the whole table: from the read replica when one is configured.
        settings = get_settings()
        database = Database(settings.database_url, read_url=settings.read_database_url)
        started = time.perf_counter()
        summary = export_table(database, name, out)
        seconds = time.perf_counter() - started
        Console(stderr=True).print(
            f"Exported {summary.rows:,} {name} to {out} in {seconds:.1f} s "
            f"({summary.rows / max(seconds, 1e-6):,.0f} rows/s)."
        )

    command.__doc__ = f"Stream the register's {name} into a Parquet file (for DuckDB or Spark)."
    export_app.command(name)(command)


for _table in ("persons", "households", "household-members", "residences", "relations", "events"):
    _export_command(_table)
