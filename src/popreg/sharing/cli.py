"""``popreg partner``: the operator registers partners, sets their policies and manages their keys.

Commands work on ``POPREG_DATABASE_URL`` and are logged in the access log as ``system``/``cli``.
Serving processes see a change within ``POPREG_GATEWAY_REFRESH_SECONDS``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from popreg.kit.cli import run_in_transaction, split_names
from popreg.kit.errors import DomainError
from popreg.sharing import service
from popreg.sharing.credentials import generate_key_pair
from popreg.sharing.schemas import PartnerCreate, PartnerKind, PolicyIn

app = typer.Typer(help="Partner agencies and businesses of the gateway.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("create")
def create(
    partner_id: Annotated[str, typer.Argument(help="A short slug, e.g. vietbank.")],
    name: Annotated[str, typer.Option(help="The partner's full name.")],
    kind: Annotated[PartnerKind, typer.Option(help="agency (legal basis) or business (consent).")],
) -> None:
    """Register a partner. It can do nothing until it has a policy and a key."""
    run_in_transaction(
        lambda session: service.create(
            session, actor=service.CLI_OPERATOR, data=PartnerCreate(id=partner_id, name=name, kind=kind)
        )
    )
    console.print(f"Registered partner {partner_id} ({kind.value}).")


@app.command("policy")
def policy(
    partner_id: Annotated[str, typer.Argument(help="The partner.")],
    daily_quota: Annotated[int, typer.Option(help="Requests per day (Vietnam time).")],
    rate: Annotated[float, typer.Option(help="Requests per second.")],
    burst: Annotated[int, typer.Option(help="Requests that may arrive at once.")],
    operations: Annotated[str, typer.Option(help="Comma-separated: verify,read,sync,events.")] = "",
    verify_fields: Annotated[str, typer.Option(help="Comma-separated attributes a partner may verify.")] = "",
    read_fields: Annotated[str, typer.Option(help="Comma-separated attributes a partner may read.")] = "",
    write_fields: Annotated[str, typer.Option(help="Comma-separated fields an agency may write (sync).")] = "",
    purposes: Annotated[str, typer.Option(help="Comma-separated purpose codes, e.g. account-opening.")] = "",
) -> None:
    """Replace the partner's policy (every option not given becomes empty)."""

    def work(session: Session) -> int:
        data = PolicyIn(
            operations=split_names(operations),
            verify_fields=split_names(verify_fields),
            read_fields=split_names(read_fields),
            write_fields=split_names(write_fields),
            purposes=split_names(purposes),
            daily_quota=daily_quota,
            rate_per_second=rate,
            burst=burst,
        )
        return service.set_policy(session, actor=service.CLI_OPERATOR, partner_id=partner_id, data=data).version

    version = run_in_transaction(work)
    console.print(f"Policy of {partner_id} is now at version {version}.")


@app.command("add-key")
def add_key(
    partner_id: Annotated[str, typer.Argument(help="The partner.")],
    jwk_file: Annotated[Path, typer.Argument(help="A file holding the partner's PUBLIC key as a JWK (JSON).")],
) -> None:
    """Register one of the partner's public keys (EC P-256 / ES256 or Ed25519 / EdDSA)."""
    try:
        jwk: Any = json.loads(jwk_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        console.print(f"[red]PARTNER_KEY_INVALID[/red]: {jwk_file} is not a readable JSON file ({error}).")
        raise typer.Exit(1) from None
    kid = run_in_transaction(
        lambda session: service.add_key(session, actor=service.CLI_OPERATOR, partner_id=partner_id, jwk=jwk).kid
    )
    console.print(f"Added key {kid} to {partner_id}.")


@app.command("retire-key")
def retire_key(
    partner_id: Annotated[str, typer.Argument(help="The partner.")],
    kid: Annotated[str, typer.Argument(help="The key id.")],
) -> None:
    """Retire a key: no new assertion verifies with it; tokens already issued run until they expire."""
    run_in_transaction(
        lambda session: service.retire_key(session, actor=service.CLI_OPERATOR, partner_id=partner_id, kid=kid)
    )
    console.print(f"Retired key {kid} of {partner_id}.")


@app.command("suspend")
def suspend(
    partner_id: Annotated[str, typer.Argument(help="The partner.")],
    reason: Annotated[str, typer.Option(help="Why, for the log and the partner.")],
) -> None:
    """Suspend a partner: its tokens are refused within the refresh interval."""
    run_in_transaction(
        lambda session: service.suspend(session, actor=service.CLI_OPERATOR, partner_id=partner_id, reason=reason)
    )
    console.print(f"Suspended {partner_id}.")


@app.command("resume")
def resume(partner_id: Annotated[str, typer.Argument(help="The partner.")]) -> None:
    """Let a suspended partner work again."""
    run_in_transaction(lambda session: service.resume(session, actor=service.CLI_OPERATOR, partner_id=partner_id))
    console.print(f"Resumed {partner_id}.")


@app.command("list")
def list_partners() -> None:
    """Print every partner, its policy and keys as JSON."""
    partners = run_in_transaction(lambda session: service.views(session, service.get_all(session)))
    typer.echo(json.dumps([partner.model_dump(mode="json") for partner in partners], ensure_ascii=False, indent=2))


@app.command("keygen")
def keygen(
    private_file: Annotated[Path, typer.Argument(help="Where to write the PRIVATE key (JWK); never overwritten.")],
    alg: Annotated[str, typer.Option(help="ES256 (EC P-256) or EdDSA (Ed25519).")] = "ES256",
) -> None:
    """Make a key pair for a partner: the private JWK goes to a file readable only by you, the public JWK
    is printed (give it to the administrator, or pass it to ``add-key``)."""
    try:
        private, public = generate_key_pair(alg)
    except DomainError as error:
        console.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(1) from None
    try:
        descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        console.print(f"[red]FILE_EXISTS[/red]: {private_file} exists; it is never overwritten.")
        raise typer.Exit(1) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(private, file, indent=2)
    typer.echo(json.dumps(public, indent=2))
    console.print(f"Private key written to {private_file} (keep it secret); public key printed above.")
