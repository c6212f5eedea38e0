"""Create the demo world through the services. Deterministic and safe to run twice."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from routing import selectors
from routing.services import shift_start

DEMO_PASSWORD = "veivalg-demo"  # noqa: S105 - printed on purpose: demo accounts only

# (username, first name, roles, on shift now)
DEMO_STAFF = [
    ("kari", "Kari", [selectors.COUNSELLOR_GROUP], True),
    ("ola", "Ola", [selectors.COUNSELLOR_GROUP], False),
    ("ingrid", "Ingrid", [selectors.COUNSELLOR_GROUP], False),
    ("vaktleder", "Siri", [selectors.SUPERVISOR_GROUP, selectors.COUNSELLOR_GROUP], False),
    ("statistikk", "Per", [selectors.STATISTICIAN_GROUP], False),
]


class Command(BaseCommand):
    help = "Create demo counsellors, a supervisor and a statistician, with one shift open now."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        with transaction.atomic():
            for username, first_name, roles, on_shift in DEMO_STAFF:
                user, created = user_model.objects.get_or_create(
                    username=username, defaults={"first_name": first_name}
                )
                if created:
                    user.set_password(DEMO_PASSWORD)
                    user.save(update_fields=["password"])
                for role in roles:
                    user.groups.add(Group.objects.get(name=role))
                if on_shift:
                    shift_start(counsellor=user)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for username, _first, roles, _shift in DEMO_STAFF:
            self.stdout.write(f"  {username:<11} / {DEMO_PASSWORD}   ({', '.join(roles)})")
