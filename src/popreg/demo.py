"""The demo: an SQLite register with a synthetic population and demo officials, ready to serve."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from popreg.kit.database import Database
from popreg.kit.migrations import upgrade
from popreg.officials import service as officials
from popreg.officials.rules import Role
from popreg.registry import bulk
from popreg.sharing import service as partners
from popreg.sharing.credentials import generate_key_pair
from popreg.sharing.schemas import PartnerCreate, PartnerKind, PolicyIn
from popreg.synth.generator import generate_population


@dataclass(frozen=True, slots=True)
class DemoOfficial:
    username: str
    password: str
    role: Role
    jurisdiction_code: str | None
    display_name: str


# Documented in the README: demo data only, never for a real deployment.
DEMO_OFFICIALS = (
    DemoOfficial("admin", "popreg-demo-admin", Role.NATIONAL_ADMIN, None, "Quản trị quốc gia"),
    DemoOfficial("hanoi", "popreg-demo-hanoi", Role.PROVINCE_OFFICER, "01", "Cán bộ Công an TP Hà Nội"),
    DemoOfficial("badinh", "popreg-demo-badinh", Role.COMMUNE_OFFICER, "00004", "Cán bộ Công an phường Ba Đình"),
    DemoOfficial("auditor", "popreg-demo-audit", Role.AUDITOR, None, "Kiểm tra viên"),
)


@dataclass(frozen=True, slots=True)
class DemoPartner:
    partner_id: str
    name: str
    kind: PartnerKind
    purposes: tuple[str, ...]


DEMO_PARTNERS = (
    DemoPartner("demo-bank", "Ngân hàng Thử nghiệm (demo)", PartnerKind.BUSINESS, ("account-opening",)),
    DemoPartner("demo-bhxh", "Bảo hiểm xã hội (demo)", PartnerKind.AGENCY, ("social-insurance", "health-insurance")),
)
VERIFY_FIELDS = ["full_name", "birth_date", "sex", "nationality", "permanent_commune_code", "permanent_address"]


def build_demo(*, database_file: str, people: int, seed: int, console: Console) -> str:
    """Create the demo database (once; an existing demo file is reused) and return its URL."""
    path = Path(database_file).resolve()
    url = f"sqlite:///{path}"
    if path.exists():
        console.print(f"Using the existing demo register {path} (delete it to build a new one).")
        _print_officials(console)
        _print_partners(console, path)
        return url
    started = time.perf_counter()
    database = Database(url)
    upgrade(database)
    console.print(f"Generating {people:,} synthetic persons (seed {seed})...")
    population = generate_population(people, seed=seed)
    generated = time.perf_counter()
    with database.unit_of_work() as session:
        summary = bulk.load(
            session,
            population,
            legal_basis="Synthetic demonstration data",
        )
        for official in DEMO_OFFICIALS:
            officials.create(
                session,
                username=official.username,
                password=official.password,
                display_name=official.display_name,
                role=official.role,
                jurisdiction_code=official.jurisdiction_code,
            )
        keys_folder = _partner_keys_folder(path)
        keys_folder.mkdir(exist_ok=True)
        for partner in DEMO_PARTNERS:
            private_jwk, public_jwk = generate_key_pair("ES256")
            partners.create(
                session,
                actor=partners.CLI_OPERATOR,
                data=PartnerCreate(id=partner.partner_id, name=partner.name, kind=partner.kind),
            )
            partners.set_policy(
                session,
                actor=partners.CLI_OPERATOR,
                partner_id=partner.partner_id,
                data=PolicyIn(
                    # The agency (social insurance) also keeps the numbers it issues up to date (sync) and
                    # may subscribe to the register's change events of the fields it may read (events).
                    operations=(
                        ["verify", "read", "sync", "events"]
                        if partner.kind is PartnerKind.AGENCY
                        else ["verify", "read"]
                    ),
                    write_fields=(
                        ["social_insurance_number", "health_insurance_card_number"]
                        if partner.kind is PartnerKind.AGENCY
                        else []
                    ),
                    verify_fields=VERIFY_FIELDS,
                    read_fields=["full_name", "birth_date", "sex", "permanent_address"],
                    purposes=list(partner.purposes),
                    daily_quota=1_000_000,
                    rate_per_second=1000.0,
                    burst=2000,
                ),
            )
            partners.add_key(session, actor=partners.CLI_OPERATOR, partner_id=partner.partner_id, jwk=public_jwk)
            key_file = keys_folder / f"{partner.partner_id}.private.jwk.json"
            key_file.write_text(json.dumps(private_jwk, indent=2))
            key_file.chmod(0o600)
    database.refresh_statistics()
    database.dispose()
    loaded = time.perf_counter()
    console.print(
        f"Loaded {summary.persons:,} persons, {summary.households:,} households and "
        f"{summary.residences:,} residences in {loaded - started:.1f} s "
        f"(generation {generated - started:.1f} s, loading {loaded - generated:.1f} s)."
    )
    _print_officials(console)
    _print_partners(console, path)
    return url


def _partner_keys_folder(database_path: Path) -> Path:
    return database_path.with_name(f"{database_path.stem}-partner-keys")


def _print_partners(console: Console, database_path: Path) -> None:
    table = Table(title="Demo partners (their private keys are for this demo only)")
    for column in ("partner", "kind", "purposes", "private key (JWK)"):
        table.add_column(column)
    for partner in DEMO_PARTNERS:
        key_file = _partner_keys_folder(database_path) / f"{partner.partner_id}.private.jwk.json"
        table.add_row(partner.partner_id, partner.kind.value, ", ".join(partner.purposes), str(key_file))
    console.print(table)
    console.print("Get an access token as a partner: see docs/partners.md; verify with docs/verification.md.")


def _print_officials(console: Console) -> None:
    table = Table(title="Demo officials (synthetic data only)")
    for column in ("username", "password", "role", "jurisdiction"):
        table.add_column(column)
    for official in DEMO_OFFICIALS:
        table.add_row(
            official.username, official.password, official.role.value, official.jurisdiction_code or "national"
        )
    console.print(table)
