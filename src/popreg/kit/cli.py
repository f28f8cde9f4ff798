"""What the operator commands share: one command, one transaction, refusals printed as code and message."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.orm import Session

from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import get_settings

T = TypeVar("T")
errors = Console(stderr=True)


def run_in_transaction(work: Callable[[Session], T]) -> T:
    """Run one command in one transaction on ``POPREG_DATABASE_URL``; a refusal prints its code and
    message and exits with status 1 (nothing is stored)."""
    database = Database(get_settings().database_url)
    try:
        with database.unit_of_work() as session:
            return work(session)
    except DomainError as error:
        errors.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(1) from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        errors.print(f"[red]INPUT_INVALID[/red]: {problems}")
        raise typer.Exit(1) from None
    finally:
        database.dispose()


def split_names(value: str) -> list[str]:
    """A comma-separated option (``full_name,birth_date``) as a list, blanks dropped."""
    return [name.strip() for name in value.split(",") if name.strip()]
