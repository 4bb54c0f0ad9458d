"""Calendar periods in a time zone: days and months for budgets, quotas and reports.

Boundaries are local midnights in the zone (DST-aware: a local day may last 23 or 25
hours), returned as Unix seconds, half-open `[start, end)`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent_routing.errors import ConfigError


def resolve_timezone(name: str, field: str = "tz") -> ZoneInfo:
    """The IANA zone `name`; ConfigError naming `field` when it is unknown."""
    shown = name if len(name) <= 60 else name[:60] + "..."
    problem = ConfigError.single(
        field, f"unknown time zone {shown!r} (use an IANA name such as 'UTC' or 'Europe/Paris')"
    )
    if len(name) > 255:  # no zone name is this long (and the file name would be refused)
        raise problem
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise problem from None


def local_midnight(day: date, zone: tzinfo) -> float:
    """Unix seconds of the start of `day` in `zone`."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def local_date(moment: float, zone: tzinfo) -> date:
    """The calendar date of a Unix time in `zone`."""
    return datetime.fromtimestamp(moment, zone).date()


def day_bounds(moment: float, zone: tzinfo) -> tuple[float, float]:
    """The local day containing `moment`."""
    day = local_date(moment, zone)
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


def month_bounds(moment: float, zone: tzinfo) -> tuple[float, float]:
    """The local calendar month containing `moment`."""
    day = local_date(moment, zone)
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return local_midnight(first, zone), local_midnight(following, zone)
