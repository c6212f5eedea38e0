"""Load the shipped crisis signals (moderation/data/crisis_terms.json)."""

import json
from pathlib import Path

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

DATA = Path(__file__).resolve().parent.parent / "data" / "crisis_terms.json"


def load(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    term = apps.get_model("moderation", "CrisisTerm")
    if term.objects.exists():
        return
    for entry in json.loads(DATA.read_text(encoding="utf-8"))["terms"]:
        term.objects.create(
            pattern=entry["pattern"],
            category=entry["category"],
            language=entry["language"],
            weak=entry["weak"],
        )


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
