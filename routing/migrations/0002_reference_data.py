"""Reference data: roles, the counties (versioned, from routing/data/counties.json), the default
opening hours (Mon–Thu 10–20, Fri 10–15) and the dispatch lock row."""

import datetime
import json
from pathlib import Path

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

ROLES = ("counsellor", "supervisor", "statistician")
DATA = Path(__file__).resolve().parent.parent / "data" / "counties.json"
DEFAULT_HOURS = [(day, "10:00", "20:00") for day in range(4)] + [(4, "10:00", "15:00")]


def load(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)
    county = apps.get_model("routing", "County")
    for version in json.loads(DATA.read_text(encoding="utf-8"))["versions"]:
        valid_from = datetime.date.fromisoformat(version["valid_from"])
        valid_to = version["valid_to"] and datetime.date.fromisoformat(version["valid_to"])
        for code, name in version["counties"]:
            county.objects.update_or_create(
                code=code,
                valid_from=valid_from,
                defaults={"name": name, "valid_to": valid_to or None},
            )
    hours = apps.get_model("routing", "OpeningHours")
    if not hours.objects.exists():
        for weekday, opens, closes in DEFAULT_HOURS:
            hours.objects.create(
                weekday=weekday,
                opens=datetime.time.fromisoformat(opens),
                closes=datetime.time.fromisoformat(closes),
            )
    apps.get_model("routing", "DispatchLock").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
