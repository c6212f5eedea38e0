"""Export a county's statistics for a period as CSV, XLSX or JSON (aggregates only, small
cells suppressed). Example:

    python manage.py reports_export --county 31 --from 2026-01-01 --to 2026-12-31 \\
        --period month --format csv --output oestfold-2026.csv
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from reports.api import tables_payload
from reports.export import build_tables, to_csv, to_xlsx
from reports.periods import KINDS
from routing.selectors import current_counties


class Command(BaseCommand):
    help = "Export topic statistics for one county (aggregates only, small cells suppressed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--county", required=True, help="SSB county code, e.g. 31")
        parser.add_argument("--from", dest="first", required=True, type=dt.date.fromisoformat)
        parser.add_argument("--to", dest="last", required=True, type=dt.date.fromisoformat)
        parser.add_argument("--period", choices=KINDS, default="month")
        parser.add_argument("--format", choices=("csv", "xlsx", "json"), default="csv")
        parser.add_argument("--language", choices=("nb", "nn", "en"), default="nb")
        parser.add_argument("--output", required=True, type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        county = options["county"]
        if county not in {c.code for c in current_counties()}:
            raise CommandError(
                f"Unknown county {county!r}. Use a current SSB code such as 03, 31 or 50."
            )
        if options["last"] < options["first"]:
            raise CommandError("--to is before --from.")
        with translation.override(options["language"]):
            tables = build_tables(
                county=county,
                first=options["first"],
                last=options["last"],
                period_kind=options["period"],
                language=options["language"],
            )
            if options["format"] == "csv":
                data = to_csv(tables)
            elif options["format"] == "xlsx":
                data = to_xlsx(tables)
            else:
                payload = tables_payload(county, options["period"], tables)
                data = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")
        options["output"].write_bytes(data)
        self.stdout.write(f"Wrote {len(tables)} tables to {options['output']}.")
