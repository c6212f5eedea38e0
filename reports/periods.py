"""SSB period codes: 2026M03 (month), 2026U11 (ISO week), 2026 (year)."""

from __future__ import annotations

import datetime as dt

KINDS = ("month", "week", "year")


def period_code(kind: str, day: dt.date) -> str:
    if kind == "month":
        return f"{day.year}M{day.month:02d}"
    if kind == "week":
        year, week, _weekday = day.isocalendar()
        return f"{year}U{week:02d}"
    if kind == "year":
        return str(day.year)
    raise ValueError(kind)


def periods_between(kind: str, first: dt.date, last: dt.date) -> list[str]:
    """Every period that overlaps ``first``..``last``, in order."""
    codes: list[str] = []
    day = first
    while day <= last:
        code = period_code(kind, day)
        if not codes or codes[-1] != code:
            codes.append(code)
        day += dt.timedelta(days=1)
    return codes
