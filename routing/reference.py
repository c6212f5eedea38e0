"""Reference data the service cannot run without (also loaded by migration 0002)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.contrib.auth.models import Group

from routing.models import County, DispatchLock, OpeningHours

ROLES = ("counsellor", "supervisor", "statistician")
COUNTIES = Path(__file__).resolve().parent / "data" / "counties.json"
DEFAULT_HOURS = [(day, dt.time(10), dt.time(20)) for day in range(4)] + [
    (4, dt.time(10), dt.time(15))
]


def ensure_reference_data() -> None:
    """Idempotent: roles, counties, the dispatch lock, and default hours if there are none."""
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    for version in json.loads(COUNTIES.read_text(encoding="utf-8"))["versions"]:
        valid_from = dt.date.fromisoformat(version["valid_from"])
        valid_to = dt.date.fromisoformat(version["valid_to"]) if version["valid_to"] else None
        for code, name in version["counties"]:
            County.objects.update_or_create(
                code=code, valid_from=valid_from, defaults={"name": name, "valid_to": valid_to}
            )
    DispatchLock.objects.get_or_create(pk=1)
    if not OpeningHours.objects.exists():
        for weekday, opens, closes in DEFAULT_HOURS:
            OpeningHours.objects.create(weekday=weekday, opens=opens, closes=closes)
