"""Load the shipped topic taxonomy (reports/data/taxonomy.json) as version 2026.1."""

import json
from pathlib import Path

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

DATA = Path(__file__).resolve().parent.parent / "data" / "taxonomy.json"


def load(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    taxonomy_model = apps.get_model("reports", "Taxonomy")
    topic = apps.get_model("reports", "Topic")
    apps.get_model("reports", "FillState").objects.get_or_create(id=1)
    data = json.loads(DATA.read_text(encoding="utf-8"))
    taxonomy, created = taxonomy_model.objects.get_or_create(
        version=data["version"], defaults={"is_current": True}
    )
    if not created:
        return
    sort = 0
    for top in data["topics"]:
        for entry, parent in [(top, "")] + [(c, top["code"]) for c in top["children"]]:
            sort += 1
            topic.objects.create(
                taxonomy=taxonomy,
                code=entry["code"],
                parent_code=parent,
                kind="topic",
                label_nb=entry["nb"],
                label_nn=entry["nn"],
                label_en=entry["en"],
                sort=sort,
            )
    for entry in data["referrals"]:
        sort += 1
        topic.objects.create(
            taxonomy=taxonomy,
            code=entry["code"],
            kind="referral",
            label_nb=entry["nb"],
            label_nn=entry["nn"],
            label_en=entry["en"],
            sort=sort,
        )


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
