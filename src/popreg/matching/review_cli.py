"""``popreg match merge``: retire a duplicate record into the record kept, from the command line.

The merge runs on behalf of a named official account (``--official``), whose role and jurisdiction
are checked exactly as through the API; the history events and the access log name that official.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import get_settings
from popreg.officials import service as officials
from popreg.registry import service as registry
from popreg.registry.merge_schemas import MergeIn

console = Console(stderr=True)


def merge_command(
    keep: Annotated[str, typer.Option("--keep", help="The PIN of the record to keep.")],
    retire: Annotated[str, typer.Option("--retire", help="The PIN of the duplicate record to retire.")],
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="The document that authorises the merge.")],
    official: Annotated[str, typer.Option("--official", help="The username of the official who decides it.")],
    allow_identity_differences: Annotated[
        bool,
        typer.Option(
            "--allow-identity-differences", help="Merge although sex or date of birth differ (a recording error)."
        ),
    ] = False,
) -> None:
    """Merge the record of PIN --retire into the record of PIN --keep; print the merge as JSON.

    Exit 2 with ``CODE: message`` on standard error when it is refused (nothing is stored).
    """
    database = Database(get_settings().database_url)
    try:
        with database.unit_of_work() as session:
            principal = officials.to_principal(officials.get_by_username(session, username=official))
            data = MergeIn(
                retired_pin=retire,
                surviving_pin=keep,
                legal_basis=legal_basis,
                allow_identity_differences=allow_identity_differences,
            )
            merged = registry.merge_persons(session, principal=principal, data=data)
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}", highlight=False)
        raise typer.Exit(2) from None
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        console.print(f"[red]INPUT_INVALID[/red]: {field}: {problem['msg']}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    typer.echo(json.dumps(merged.model_dump(mode="json"), ensure_ascii=False))
