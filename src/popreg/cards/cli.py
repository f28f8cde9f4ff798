"""``popreg card``: read the MRZ and the QR text of identity documents from the command line."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from popreg.cards.mrz import parse_mrz
from popreg.cards.qr import parse_payload

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


def _print(body: dict[str, Any]) -> None:
    typer.echo(json.dumps(body, ensure_ascii=False))
