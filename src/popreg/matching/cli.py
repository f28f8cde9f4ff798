"""``popreg match``: duplicate detection over the register and linkage of agencies' files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import get_settings
from popreg.matching.choices import BACKENDS, DEFAULT_THRESHOLD, REGISTER
from popreg.matching.review_cli import merge_command

# The modules that do the work import Splink, DuckDB and pandas (about a second): each command imports
# them when it runs, so that every other `popreg` command starts without them.

app = typer.Typer(help="Record matching: duplicates in the register, linkage of files.", no_args_is_help=True)
console = Console(stderr=True)

Backend = Annotated[str, typer.Option(help=f"Where Splink runs: {' or '.join(BACKENDS)}.")]


def _refuse(error: DomainError) -> typer.Exit:
    console.print(f"[red]{error.code}[/red]: {error.message}")
    return typer.Exit(2)


@app.command("dedupe")
def dedupe(
    threshold: Annotated[float, typer.Option(help="Cluster pairs at or above this match probability.")] = (
        DEFAULT_THRESHOLD
    ),
    province: Annotated[str | None, typer.Option(help="Only persons whose home province is CODE.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the clustered pairs to this CSV file.")] = None,
    backend: Backend = "duckdb",
) -> None:
    """Find likely duplicate persons across the register and queue their clusters for review."""
    from popreg.matching.dedupe import find_duplicates

    database = Database(get_settings().database_url)
    try:
        with database.unit_of_work() as session:
            summary, pairs = find_duplicates(session, threshold=threshold, province_code=province, backend=backend)
    except DomainError as error:
        raise _refuse(error) from None
    if out is not None:
        pairs.rename(columns={"unique_id_l": "person_id_l", "unique_id_r": "person_id_r"})[
            ["person_id_l", "person_id_r", "match_probability"]
        ].to_csv(out, index=False)
    console.print(
        f"Run {summary.run_id}: {summary.persons_scanned:,} persons, {summary.pairs_scored:,} pairs scored, "
        f"{summary.clusters:,} clusters of likely duplicates ({summary.persons_in_clusters:,} persons) "
        f"at probability >= {summary.threshold}."
    )
    typer.echo(json.dumps(summary.__dict__))


@app.command("link")
def link(
    left: Annotated[Path, typer.Option(help="The agency's file (CSV or Parquet).")],
    right: Annotated[str, typer.Option(help=f"The other file, or '{REGISTER}' for the register's persons.")],
    id_column: Annotated[str, typer.Option("--id", help="The record-id column of each file.")],
    out: Annotated[Path, typer.Option(help="PAIRS.csv: left_id, right_id, match_probability.")],
    mappings: Annotated[
        list[str] | None, typer.Option("--map", help="COLUMN=FIELD: a column of either file and the field it holds.")
    ] = None,
    threshold: Annotated[float, typer.Option(help="Only pairs at or above this match probability.")] = 0.5,
    backend: Backend = "duckdb",
) -> None:
    """Link an agency's file of persons to another file or to the register."""
    from popreg.matching.dedupe import check_threshold
    from popreg.matching.link import link_files

    try:
        check_threshold(threshold)
        if right == REGISTER:
            database = Database(get_settings().database_url)
            with database.unit_of_work() as session:
                result = link_files(
                    session,
                    left=left,
                    right=right,
                    id_column=id_column,
                    mappings=mappings or [],
                    threshold=threshold,
                    backend=backend,
                )
        else:
            result = link_files(
                None,
                left=left,
                right=Path(right),
                id_column=id_column,
                mappings=mappings or [],
                threshold=threshold,
                backend=backend,
            )
    except DomainError as error:
        raise _refuse(error) from None
    result.pairs.to_csv(out, index=False)
    console.print(
        f"{len(result.pairs):,} candidate pairs at probability >= {threshold} between "
        f"{result.left_records:,} and {result.right_records:,} records, written to {out}."
    )


app.command("merge")(merge_command)  # the review of duplicates: see matching/review_cli.py
