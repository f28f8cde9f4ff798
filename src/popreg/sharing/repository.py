"""Every query of partners, policies, keys, used client assertions and usage counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from popreg.sharing.models import Partner, PartnerKey, PartnerPolicy, PartnerUsage, UsedClientAssertion


def get_partner(session: Session, *, partner_id: str, for_update: bool = False) -> Partner | None:
    query = select(Partner).where(Partner.id == partner_id)
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def list_partners(session: Session) -> list[Partner]:
    return list(session.execute(select(Partner).order_by(Partner.id)).scalars())


def get_policy(session: Session, *, partner_id: str) -> PartnerPolicy | None:
    return session.get(PartnerPolicy, partner_id)


def policies_of(session: Session, *, partner_ids: list[str]) -> dict[str, PartnerPolicy]:
    rows = session.execute(select(PartnerPolicy).where(PartnerPolicy.partner_id.in_(partner_ids))).scalars()
    return {policy.partner_id: policy for policy in rows}


def partner_with_policy(session: Session, *, partner_id: str) -> tuple[Partner, PartnerPolicy] | None:
    row = session.execute(
        select(Partner, PartnerPolicy)
        .join(PartnerPolicy, PartnerPolicy.partner_id == Partner.id)
        .where(Partner.id == partner_id)
    ).first()
    return None if row is None else (row[0], row[1])


def partners_with_policies(session: Session) -> list[tuple[Partner, PartnerPolicy]]:
    rows = session.execute(select(Partner, PartnerPolicy).join(PartnerPolicy, PartnerPolicy.partner_id == Partner.id))
    return [(partner, policy) for partner, policy in rows]


def keys_of(session: Session, *, partner_ids: list[str]) -> dict[str, list[PartnerKey]]:
    keys: dict[str, list[PartnerKey]] = {partner_id: [] for partner_id in partner_ids}
    rows = session.execute(
        select(PartnerKey).where(PartnerKey.partner_id.in_(partner_ids)).order_by(PartnerKey.id)
    ).scalars()
    for key in rows:
        keys[key.partner_id].append(key)
    return keys


def get_key(session: Session, *, partner_id: str, kid: str) -> PartnerKey | None:
    return session.execute(
        select(PartnerKey).where(PartnerKey.partner_id == partner_id, PartnerKey.kid == kid)
    ).scalar_one_or_none()


def count_active_keys(session: Session, *, partner_id: str) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(PartnerKey)
            .where(PartnerKey.partner_id == partner_id, PartnerKey.status == "active")
        ).scalar_one()
    )


def _insert(
    session: Session, table: type[UsedClientAssertion] | type[PartnerUsage]
) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can say what to do on a conflict, in the dialect of the session's database."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def remember_assertion(session: Session, *, partner_id: str, jti: str, expires_at: datetime) -> bool:
    """Record a client assertion's ``jti``; False if the partner used it before.

    One statement with ``ON CONFLICT DO NOTHING`` on the primary key (partner, jti): of two requests
    racing with the same assertion, on SQLite or PostgreSQL, exactly one inserts the row.
    """
    statement = (
        _insert(session, UsedClientAssertion)
        .values(partner_id=partner_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["partner_id", "jti"])
        .returning(UsedClientAssertion.jti)
    )
    return session.execute(statement).first() is not None


def forget_expired_assertions(session: Session, *, partner_id: str, now: datetime) -> None:
    """An expired assertion is refused for its ``exp`` anyway: its ``jti`` need not be kept."""
    session.execute(
        delete(UsedClientAssertion).where(
            UsedClientAssertion.partner_id == partner_id, UsedClientAssertion.expires_at < now
        )
    )


def add_usage(session: Session, *, counts: Mapping[tuple[str, date], int]) -> None:
    """Add admitted requests to the shared daily counts: ``count = count + n`` in one upsert per row,
    so concurrent processes never lose each other's increments."""
    for (partner_id, day), added in sorted(counts.items()):
        statement = _insert(session, PartnerUsage).values(partner_id=partner_id, day=day, count=added)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["partner_id", "day"], set_={"count": PartnerUsage.count + statement.excluded.count}
            )
        )


def usage_on(session: Session, *, day: date) -> dict[str, int]:
    rows = session.execute(select(PartnerUsage.partner_id, PartnerUsage.count).where(PartnerUsage.day == day))
    return {partner_id: int(count) for partner_id, count in rows}
