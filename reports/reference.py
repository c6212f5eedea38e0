"""The topic taxonomy as shipped (reports/data/taxonomy.json), loaded idempotently."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from reports.models import FillState, Taxonomy, Topic

TAXONOMY = Path(__file__).resolve().parent / "data" / "taxonomy.json"


def ensure_taxonomy() -> Taxonomy:
    data = json.loads(TAXONOMY.read_text(encoding="utf-8"))
    with transaction.atomic():
        FillState.objects.get_or_create(pk=1)
        taxonomy, created = Taxonomy.objects.get_or_create(version=data["version"])
        if not Taxonomy.objects.filter(is_current=True).exists():
            Taxonomy.objects.filter(pk=taxonomy.pk).update(is_current=True)
        if created or not taxonomy.topics.exists():
            sort = 0
            for top in data["topics"]:
                entries = [(top, "")] + [(child, top["code"]) for child in top["children"]]
                for entry, parent in entries:
                    sort += 1
                    Topic.objects.create(
                        taxonomy=taxonomy,
                        code=entry["code"],
                        parent_code=parent,
                        label_nb=entry["nb"],
                        label_nn=entry["nn"],
                        label_en=entry["en"],
                        sort=sort,
                    )
            for entry in data["referrals"]:
                sort += 1
                Topic.objects.create(
                    taxonomy=taxonomy,
                    code=entry["code"],
                    kind=Topic.Kind.REFERRAL,
                    label_nb=entry["nb"],
                    label_nn=entry["nn"],
                    label_en=entry["en"],
                    sort=sort,
                )
    return Taxonomy.objects.get(is_current=True)
