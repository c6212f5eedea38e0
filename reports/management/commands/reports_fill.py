"""Fill the pre-aggregated statistics counts. Idempotent and restartable; run it as often as
you like (every few minutes from cron, or after a restore with --rebuild)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from reports.services import counts_fill


class Command(BaseCommand):
    help = "Sync the statistics rows of ended chats and recount what changed since last time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true", help="Recount everything.")

    def handle(self, *args: Any, **options: Any) -> None:
        bar = tqdm(total=0, desc="recounting", unit="group", file=sys.stderr, disable=None)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = counts_fill(rebuild=options["rebuild"], progress=progress)
        bar.close()
        self.stdout.write(
            f"{result['rows_synced']} rows synced, {result['groups_recounted']} groups recounted."
        )
