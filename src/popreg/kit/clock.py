"""Time: stored in UTC, shown and counted (deadlines, "today") in Vietnam's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC: the only form in which time is stored."""
    return datetime.now(UTC)


def today_in_vietnam() -> date:
    """The calendar date in Vietnam now: what "today" means for a civil-status rule."""
    return datetime.now(VIETNAM).date()


def end_of_day_utc(day: date) -> datetime:
    """The last instant of a Vietnamese calendar day, in UTC (for "as recorded on day D")."""
    return datetime.combine(day, time.max, tzinfo=VIETNAM).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite returns naive values that were written as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_vietnam(moment: datetime) -> datetime:
    """A stored timestamp in Vietnam's time zone, for display."""
    return as_utc(moment).astimezone(VIETNAM)
