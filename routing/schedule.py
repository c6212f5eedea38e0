"""Opening hours, closures and supervisor overrides: when is the chat open?

Pure reads of the schedule tables; times are in the service's time zone (settings.TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from routing.models import Closure, OpeningHours, ServiceOverride

SEARCH_DAYS = 21


@dataclass(frozen=True)
class ScheduleState:
    scheduled_open: bool
    reason: str  # "open" | "outside_hours" | "holiday" | "closed_early"
    closes_at: dt.datetime | None
    next_opening: dt.datetime | None
    override_reason: str = ""


def _intervals(
    day: dt.date, hours: list[OpeningHours], closed: set[dt.date]
) -> list[tuple[dt.datetime, dt.datetime]]:
    if day in closed:
        return []
    tz = timezone.get_current_timezone()
    result = []
    for row in hours:
        if row.weekday != day.weekday():
            continue
        opens = dt.datetime.combine(day, row.opens, tzinfo=tz)
        closes = dt.datetime.combine(day, row.closes, tzinfo=tz)
        if row.closes <= row.opens:  # runs past midnight
            closes += dt.timedelta(days=1)
        result.append((opens, closes))
    return sorted(result)


def _active_override(now: dt.datetime) -> ServiceOverride | None:
    return (
        ServiceOverride.objects.filter(
            starts_at__lte=now, ends_at__gt=now, cancelled_at__isnull=True
        )
        .order_by("-starts_at")
        .first()
    )


def schedule_state(now: dt.datetime | None = None) -> ScheduleState:
    now = timezone.localtime(now or timezone.now())
    hours = list(OpeningHours.objects.all())
    first_day = now.date() - dt.timedelta(days=1)
    closed = set(
        Closure.objects.filter(
            date__gte=first_day, date__lte=first_day + dt.timedelta(days=SEARCH_DAYS + 1)
        ).values_list("date", flat=True)
    )
    intervals = [
        interval
        for offset in range(SEARCH_DAYS + 1)
        for interval in _intervals(first_day + dt.timedelta(days=offset), hours, closed)
    ]
    override = _active_override(now)

    def next_opening(after: dt.datetime) -> dt.datetime | None:
        return next((opens for opens, _closes in intervals if opens >= after), None)

    current = next(((o, c) for o, c in intervals if o <= now < c), None)
    if override is not None and override.kind == ServiceOverride.Kind.CLOSE:
        resume = max(now, override.ends_at)
        following = next(((o, c) for o, c in intervals if o <= resume < c), None)
        return ScheduleState(
            False,
            "closed_early",
            None,
            resume if following else next_opening(resume),
            override.reason,
        )
    if override is not None and override.kind == ServiceOverride.Kind.OPEN:
        closes_at = override.ends_at
        if current is not None:
            closes_at = max(closes_at, current[1])
        return ScheduleState(True, "open", closes_at, None, override.reason)
    if current is not None:
        return ScheduleState(True, "open", current[1], None)
    reason = "holiday" if now.date() in closed else "outside_hours"
    return ScheduleState(False, reason, None, next_opening(now))


def schedule_intervals(first_day: dt.date, days: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """Opening intervals from ``first_day`` for ``days`` days, closures left out."""
    hours = list(OpeningHours.objects.all())
    closed = set(
        Closure.objects.filter(
            date__gte=first_day, date__lt=first_day + dt.timedelta(days=days)
        ).values_list("date", flat=True)
    )
    return [
        interval
        for offset in range(days)
        for interval in _intervals(first_day + dt.timedelta(days=offset), hours, closed)
    ]
