"""Holiday calendars for the fleet schedules: named calendars ("DE-BY", "US", "GB-SCT") beside explicit dates.

A named calendar is a country code, optionally with a subdivision (ISO 3166-2 without the country), as the
`holidays` package knows them; it computes each year's dates, movable feasts included, so nobody types
next year's list. Explicit dates (`2026-12-24`) stay possible for a company's own days off.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

# Every country's rules (0.07 s, up to 0.6 s on a loaded machine) load with this module, that is in a flow run's
# start-up (hidden by the workers' prefetch), not in the first lookup after the run is due.
import holidays as holiday_calendars
import holidays.countries

from amlops.errors import InvalidInput

Entry = date | str  # a date, or an ISO date string, or a calendar name


def _as_date(entry: Entry) -> date | None:
    if isinstance(entry, date):
        return entry
    try:
        return date.fromisoformat(entry.strip())
    except ValueError:
        return None


@cache
def _calendar(name: str, year: int) -> Any:
    country, _, subdivision = name.strip().upper().partition("-")
    try:
        return holiday_calendars.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError as err:
        raise InvalidInput(f"Unknown holiday calendar {name!r}: {err}. Name a country and optionally a subdivision, such as DE-BY, US or GB-SCT.") from err


def validated(entries: list[Entry]) -> list[Entry]:
    """The entries with each calendar name checked (an unknown one is refused here, before anything is deployed)."""
    for entry in entries:
        if _as_date(entry) is None:
            _calendar(str(entry), date.today().year)
    return [_as_date(e) or str(e).strip().upper() for e in entries]


def holiday_on(day: date, entries: list[Entry]) -> str:
    """Why ``day`` is a holiday in these calendars ("Corpus Christi (DE-BY)", "2026-12-24 listed"), or ""."""
    for entry in entries:
        explicit = _as_date(entry)
        if explicit is not None:
            if explicit == day:
                return f"{day} is listed as a holiday"
            continue
        name = _calendar(str(entry), day.year).get(day)
        if name:
            return f"{day} is {name} ({str(entry).strip().upper()})"
    return ""
