"""python manage.py knowledge_search "QUERY" [--limit N] [--json] | --queries FILE

Stable output for outside tools: ``--json`` prints a list of
``{"id", "title", "url", "kind", "score"}`` best first; ``--queries`` prints one line per query,
``{"q": ..., "ids": [...]}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from knowledge import facade

FIELDS = ("id", "title", "url", "kind", "score")


class Command(BaseCommand):
    help = "Search the knowledge index (hybrid BM25 + dense retrieval)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("query", nargs="?", default=None)
        parser.add_argument("--limit", type=int, default=5)
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument(
            "--queries", type=Path, default=None, help="JSON Lines with a 'q' field per line"
        )
        parser.add_argument("--mode", choices=facade.MODES, default="hybrid")

    def handle(self, *args: Any, **options: Any) -> None:
        limit: int = options["limit"]
        if not 1 <= limit <= 100:
            raise CommandError("--limit must be between 1 and 100.")
        if (options["query"] is None) == (options["queries"] is None):
            raise CommandError('Give either a query ("...") or --queries FILE, not both.')
        try:
            if options["queries"] is not None:
                self.many(options["queries"], limit, options["mode"], options["verbosity"] > 0)
            else:
                self.one(options["query"], limit, options["mode"], options["json"])
        except facade.NoIndex as exc:
            raise CommandError(str(exc)) from None

    def one(self, query: str, limit: int, mode: Any, as_json: bool) -> None:
        hits = facade.search(query, limit=limit, mode=mode)
        if as_json:
            rows = [{k: h.as_dict()[k] for k in FIELDS} for h in hits]
            self.stdout.write(json.dumps(rows, ensure_ascii=False))
            return
        for rank, hit in enumerate(hits, start=1):
            self.stdout.write(f"{rank:>2}. {hit.score:.4f}  {hit.id}  {hit.title}  {hit.url}")
        if not hits:
            self.stdout.write("No matches.")

    def many(self, path: Path, limit: int, mode: Any, progress: bool) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        queries: list[str] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise CommandError(f"{path}: line {number}: not valid JSON.") from None
            if not isinstance(row, dict) or not isinstance(row.get("q"), str):
                raise CommandError(f"{path}: line {number}: needs a string field 'q'.")
            queries.append(row["q"])
        for query in tqdm(queries, desc="queries", unit="q", disable=not progress):
            ids = [h.id for h in facade.search(query, limit=limit, mode=mode, max_age=60.0)]
            self.stdout.write(json.dumps({"q": query, "ids": ids}, ensure_ascii=False))
