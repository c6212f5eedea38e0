"""Delete expired transcripts (after ``VEIVALG_RETENTION_DAYS``, default 30); statistics rows
stay. Schedule it daily; safe to run any time and more than once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from moderation.retention import purge_expired


class Command(BaseCommand):
    help = "Delete transcripts past the retention period (statistics rows are kept)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = purge_expired()
        self.stdout.write(
            f"{result['transcripts_deleted']} transcripts deleted, "
            f"{result['unwritten_deleted']} never-written chats removed."
        )
