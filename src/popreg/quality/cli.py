"""``popreg quality``: the register's data-quality measures (correct, complete, clean, live).

``report`` measures now and prints a table per scope (or JSON); ``--save`` also stores the figures as
a snapshot. ``snapshot`` only stores one, for a nightly timer, so that the console shows the trend.
Both read ``POPREG_DATABASE_URL`` and first fold the access log's new verifications into each person's
"last confirmed" day (a write; on a read replica ``report`` measures what the primary folded last).
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import get_settings
from popreg.quality import service
from popreg.quality.rules import MEASURES_BY_KEY, NATIONAL, format_value
from popreg.quality.service import Measurement, VerificationFold

app = typer.Typer(help="Data quality of the register: correct, complete, clean, live.", no_args_is_help=True)
console = Console(stderr=True)
CLI_ACTOR = "system:cli"


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _as_json(measurement: Measurement, snapshot_id: int | None) -> str:
    return json.dumps(
        {
            "snapshot_id": snapshot_id,
            "as_of": measurement.as_of.isoformat(),
            "measured_at": measurement.measured_at.isoformat(),
            "seconds": measurement.seconds,
            "duplicate_run_id": measurement.duplicate_run[0] if measurement.duplicate_run else None,
            "verifications_folded": None
            if measurement.fold is None
            else {
                "after_seq": measurement.fold.after_seq,
                "through_seq": measurement.fold.through_seq,
                "persons": measurement.fold.persons,
                "seconds": measurement.fold.seconds,
            },
            "scopes": {
                scope: {
                    key: {"numerator": f.numerator, "denominator": f.denominator, "value": f.value}
                    for key, f in figures.items()
                }
                for scope, figures in sorted(measurement.scopes.items())
            },
        },
        ensure_ascii=False,
        indent=1,
    )


def _print_fold(fold: VerificationFold | None) -> None:
    if fold is None:
        console.print("Read-only database: verifications measured as the primary last folded them.")
    elif fold.through_seq > fold.after_seq:
        console.print(
            f"Folded access-log entries {fold.after_seq + 1:,} to {fold.through_seq:,}: "
            f"{fold.persons:,} persons newly confirmed ({fold.seconds:.2f} s)."
        )


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _print_tables(measurement: Measurement) -> None:
    out = Console()
    ordered = sorted(measurement.scopes, key=lambda scope: (scope != NATIONAL, scope))
    for scope in ordered:
        table = Table(title=f"{service.province_name(scope)} ({scope}) · as of {measurement.as_of.isoformat()}")
        table.add_column("dimension")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_column("meeting it", justify="right")
        table.add_column("of", justify="right")
        for key, figure in measurement.scopes[scope].items():
            measure = MEASURES_BY_KEY[key]
            label = f"[bold]{measure.label}[/bold]" if measure.headline else measure.label
            table.add_row(
                measure.dimension.value,
                label,
                format_value(measure, figure.value),
                _count(figure.numerator),
                _count(figure.denominator),
            )
        out.print(table)
    console.print(f"Measured in {measurement.seconds:.2f} s.")


@app.command("report")
def report(
    province: Annotated[
        str | None, typer.Option(help="A current province code (e.g. 01); the whole country when omitted.")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.TABLE,
    save: Annotated[
        bool, typer.Option("--save", help="Store the figures as a snapshot (whole country) for the trend.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option(help="Day of measurement, YYYY-MM-DD (default: today, Vietnam time).")
    ] = None,
) -> None:
    """Measure the register now and print the measures per province and nationally."""
    database = Database(get_settings().database_url)
    try:
        day = _parse_day(as_of)
        if save and province is not None:
            raise typer.BadParameter("--save stores the whole country; leave out --province.")
        with database.unit_of_work() as session:
            if save:
                snapshot_id, measurement = service.take_snapshot(session, taken_by=CLI_ACTOR, as_of=day)
            else:
                snapshot_id, measurement = None, service.measure_register(session, as_of=day, province=province)
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    _print_fold(measurement.fold)
    if output is OutputFormat.JSON:
        typer.echo(_as_json(measurement, snapshot_id))
    else:
        _print_tables(measurement)
    if snapshot_id is not None:
        console.print(f"Stored as snapshot {snapshot_id}.")


@app.command("snapshot")
def snapshot(
    as_of: Annotated[
        str | None, typer.Option(help="Day of measurement, YYYY-MM-DD (default: today, Vietnam time).")
    ] = None,
) -> None:
    """Measure the whole register and store the figures (run it nightly; the console shows the trend)."""
    database = Database(get_settings().database_url)
    try:
        day = _parse_day(as_of)
        with database.unit_of_work() as session:
            snapshot_id, measurement = service.take_snapshot(session, taken_by=CLI_ACTOR, as_of=day)
    finally:
        database.dispose()
    _print_fold(measurement.fold)
    console.print(f"Stored snapshot {snapshot_id} ({len(measurement.scopes)} scopes, {measurement.seconds:.2f} s).")


def _parse_day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date written YYYY-MM-DD.", param_hint="--as-of") from None
