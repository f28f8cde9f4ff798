"""``popreg synth``: generate a synthetic population to Parquet files or straight into the register."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from popreg.kit.database import Database
from popreg.kit.settings import get_settings
from popreg.registry import bulk
from popreg.synth.generator import iter_population
from popreg.synth.io import write_parquet_stream

console = Console(stderr=True)


def synth(
    people: Annotated[int, typer.Option("--people", min=1, help="How many persons (before duplicates).")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same population.")] = 2024,
    out: Annotated[Path | None, typer.Option(help="FILE.parquet: persons there, other tables beside it.")] = None,
    into_db: Annotated[bool, typer.Option("--into-db", help="Load into POPREG_DATABASE_URL instead.")] = False,
    error_rate: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of labelled duplicate records with realistic defects.")
    ] = 0.0,
) -> None:
    """Generate a statistically realistic synthetic population of Vietnam (no real personal data).

    With --into-db, duplicates get PINs of their own (the register holds each PIN once); with --out,
    half of them keep their original's PIN, as a dirty source file would, and the truth (which
    records are the same person) is written beside the data.
    """
    if (out is None) == (not into_db):
        console.print("[red]INPUT_INVALID[/red]: give exactly one of --out FILE.parquet or --into-db.")
        raise typer.Exit(2)
    started = time.perf_counter()
    chunks = iter_population(people, seed=seed, error_rate=error_rate, duplicate_same_pin_share=0.0 if into_db else 0.5)
    totals = {"persons": 0, "households": 0, "residences": 0, "relations": 0}
    if out is not None:

        def counted() -> object:
            for chunk in chunks:
                for name in totals:
                    totals[name] += getattr(chunk, name).num_rows
                yield chunk

        paths = write_parquet_stream(counted(), out)  # type: ignore[arg-type]
        where = {name: str(path) for name, path in paths.items()}
    else:
        database = Database(get_settings().database_url)
        for chunk in chunks:
            with database.unit_of_work() as session:
                summary = bulk.load(
                    session,
                    chunk,
                    legal_basis="Synthetic data",
                )
            totals["persons"] += summary.persons
            totals["households"] += summary.households
            totals["residences"] += summary.residences
            totals["relations"] += summary.relations
        database.refresh_statistics()
        where = {"database": database.url.split("@")[-1]}
    seconds = time.perf_counter() - started
    console.print(
        f"{totals['persons']:,} persons, {totals['households']:,} households, "
        f"{totals['residences']:,} residences in {seconds:.1f} s "
        f"({totals['persons'] / max(seconds, 1e-9):,.0f} persons/s)."
    )
    typer.echo(
        json.dumps(
            {**totals, "seconds": round(seconds, 3), "seed": seed, "error_rate": error_rate, "written": where},
            ensure_ascii=False,
        )
    )
