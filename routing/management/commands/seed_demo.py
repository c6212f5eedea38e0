"""Create the demo world through the services. Deterministic and safe to run twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from knowledge import facade as knowledge
from reports.demo import history_load
from reports.models import StatRow
from reports.reference import ensure_taxonomy
from reports.services import counts_fill
from routing import selectors
from routing.models import CounsellorProfile, County, Organisation, ServiceOverride
from routing.reference import ensure_reference_data
from routing.services import service_override_set, shift_start

DEMO_CORPUS = Path(__file__).resolve().parents[3] / "knowledge" / "corpus" / "demo.jsonl"

DEMO_PASSWORD = "veivalg-demo"  # noqa: S105 - printed on purpose: demo accounts only
CENTRAL = "Sentral enhet"

# (username, first name, organisation, languages, roles, on shift now)
DEMO_STAFF = [
    ("kari", "Kari", "Karrieresenteret i Trøndelag", "nb,nn", [selectors.COUNSELLOR_GROUP], True),
    ("ola", "Ola", "Karrieresenteret i Vestland", "nn,nb,en", [selectors.COUNSELLOR_GROUP], False),
    ("ingrid", "Ingrid", "Karrieresenteret i Innlandet", "nb", [selectors.COUNSELLOR_GROUP], False),
    (
        "vaktleder",
        "Siri",
        CENTRAL,
        "nb,nn,en",
        [selectors.SUPERVISOR_GROUP, selectors.COUNSELLOR_GROUP],
        False,
    ),
    (
        "statistikk",
        "Per",
        "Karrieresenteret i Trøndelag",
        "nb",
        [selectors.STATISTICIAN_GROUP],
        False,
    ),
]
CENTRE_COUNTIES = {"Trøndelag": "50", "Vestland": "46", "Innlandet": "34"}


def _organisations() -> None:
    Organisation.objects.get_or_create(
        name=CENTRAL, defaults={"kind": Organisation.Kind.CENTRAL_UNIT}
    )
    for county_name, code in CENTRE_COUNTIES.items():
        Organisation.objects.get_or_create(
            name=f"Karrieresenteret i {county_name}",
            defaults={"kind": Organisation.Kind.COUNTY_CENTRE, "county_code": code},
        )
    for county in County.objects.filter(centre_url=""):
        county.centre_url = f"https://veivalg.example/karrieresenter/{county.code}"
        county.save(update_fields=["centre_url"])


class Command(BaseCommand):
    help = "Create demo counsellors, a supervisor and a statistician, with the chat open now."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        with transaction.atomic():
            ensure_reference_data()
            ensure_taxonomy()
            _organisations()
            for username, first_name, organisation, languages, roles, _shift in DEMO_STAFF:
                user, created = user_model.objects.get_or_create(
                    username=username, defaults={"first_name": first_name}
                )
                if created:
                    user.set_password(DEMO_PASSWORD)
                    user.save(update_fields=["password"])
                for role in roles:
                    user.groups.add(Group.objects.get(name=role))
                CounsellorProfile.objects.get_or_create(
                    user=user,
                    defaults={
                        "organisation": Organisation.objects.get(name=organisation),
                        "languages": languages,
                    },
                )
        now = timezone.now()
        if not ServiceOverride.objects.filter(
            kind=ServiceOverride.Kind.OPEN, ends_at__gt=now, cancelled_at__isnull=True
        ).exists():
            # The demo must be usable at any hour: the supervisor opens the chat ad hoc.
            service_override_set(
                actor=user_model.objects.get(username="vaktleder"),
                kind=ServiceOverride.Kind.OPEN,
                reason="Demo: åpent for utprøving",
                until=now + dt.timedelta(hours=12),
            )
        for username, *_rest, on_shift in DEMO_STAFF:
            if on_shift:
                shift_start(counsellor=user_model.objects.get(username=username))
        if not StatRow.objects.exists():
            rows = history_load(days=120, seed=2026)
            counts_fill(rebuild=True)
            self.stdout.write(f"Statistics history: {rows} chats over 120 days.")
        if knowledge.index_info() is None:
            self.stdout.write("Knowledge index: embedding the demo corpus (once; cached after).")
            result = knowledge.load_file(DEMO_CORPUS, progress=True)
            self.stdout.write(f"Knowledge index: {result.documents} documents.")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for username, _first, organisation, _langs, roles, _shift in DEMO_STAFF:
            self.stdout.write(
                f"  {username:<11} / {DEMO_PASSWORD}   ({', '.join(roles)}; {organisation})"
            )
        self.stdout.write(
            "The chat opens for visitors once a counsellor on shift has the desk open "
            "(log in as kari)."
        )
