"""``popreg user``: manage officials' accounts."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import get_settings
from popreg.officials import service
from popreg.officials.rules import Role

app = typer.Typer(help="Officials' accounts.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name, e.g. cb.phuongbadinh.")],
    role: Annotated[Role, typer.Option(help="What the official may do.")],
    jurisdiction: Annotated[
        str | None, typer.Option(help="Commune (5 digits) or province (2 digits) code; none for national roles.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create an official. The password is read from POPREG_NEW_PASSWORD or asked for (hidden)."""
    password = os.environ.get("POPREG_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    settings = get_settings()
    database = Database(settings.database_url)
    try:
        with database.unit_of_work() as session:
            official = service.create(
                session,
                username=username,
                password=password,
                display_name=name or username,
                role=role,
                jurisdiction_code=jurisdiction,
            )
            summary = f"{official.username} ({official.role}, {official.jurisdiction_code or 'national'})"
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(1) from None
    console.print(f"Created official {summary}.")
