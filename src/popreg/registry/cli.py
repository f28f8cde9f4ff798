"""``popreg pin``: check personal identification numbers from the command line."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

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
