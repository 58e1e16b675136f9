"""Times of day in time zones: parsing what users type, and when a local time falls in UTC."""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = ["parse_time", "parse_zone", "scheduled_at", "zone_names"]

_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


@cache
def zone_names() -> dict[str, str]:
    """Every IANA zone name, keyed by its lower-case form."""
    return {z.lower(): z for z in available_timezones()}


def parse_time(text: str) -> str | None:
    """'9:00', '09:00', '9.00' or '21h30' -> 'HH:MM'; None if it is not a time of day."""
    m = _TIME.match(text.strip())
    return f"{int(m[1]):02d}:{m[2]}" if m else None


def parse_zone(text: str) -> str | None:
    """An IANA time zone name, matched case-insensitively; None if there is no such zone."""
    name = text.strip()
    if not name or ".." in name or name.startswith("/"):
        return None
    found = zone_names().get(name.lower())
    if found is None:
        return None
    try:
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return found


def scheduled_at(day: dt.date, post_time: str, zone: str) -> dt.datetime:
    """The UTC instant of `post_time` on local `day`. A time that does not exist that day (clocks
    go forward) moves forward by the gap; a time that occurs twice (clocks go back) is the first."""
    hour, minute = map(int, post_time.split(":"))
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone), fold=0)
    return local.astimezone(dt.UTC)
