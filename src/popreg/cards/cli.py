"""``popreg card``: read the MRZ and the QR text of identity documents, and print a person's MRZ."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from popreg.cards import service
from popreg.cards.mrz import parse_mrz
from popreg.cards.qr import parse_payload
from popreg.kit.database import Database
from popreg.kit.errors import DomainError
from popreg.kit.settings import get_settings

app = typer.Typer(
    help="Identity documents: the machine-readable zone (MRZ) and the card's QR text.", no_args_is_help=True
)


@app.command("parse-mrz")
def parse_mrz_command() -> None:
    """Read MRZ lines (TD1, TD2 or TD3) on standard input; print one JSON object; exit 1 unless all is valid."""
    text = typer.get_binary_stream("stdin").read().decode("utf-8", errors="replace")
    result = parse_mrz(text)
    _print(result.to_json_dict())
    raise typer.Exit(0 if result.valid else 1)


@app.command("parse-qr")
def parse_qr_command(
    payload: Annotated[str, typer.Argument(help="The text read from the card's QR code, fields separated by |.")],
) -> None:
    """Read a citizen identity card's QR text; print one JSON object; exit 1 unless the card data is valid."""
    result = parse_payload(payload)
    _print(dict(result.to_json_dict()))
    raise typer.Exit(0 if result.valid else 1)


@app.command("mrz")
def mrz_command(pin: Annotated[str, typer.Argument(help="The person's 12-digit PIN.")]) -> None:
    """Print the three MRZ lines of the person's valid card (database: POPREG_DATABASE_URL).

    Exit 1 with ``CODE: message`` on standard error when there is none (``CARD_NO_VALID_CARD``) or
    the person is unknown (``PERSON_NOT_FOUND``, ``PIN_INVALID_STRUCTURE``). The read is written to
    the access log as the operator's.
    """
    database = Database(get_settings().database_url)
    try:
        with database.unit_of_work() as session:
            zone = service.valid_card_mrz(session, principal=None, pin=pin, purpose="operator_cli")
    except DomainError as error:
        typer.echo(f"{error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo("\n".join(zone.lines))


def _print(body: dict[str, Any]) -> None:
    typer.echo(json.dumps(body, ensure_ascii=False))
