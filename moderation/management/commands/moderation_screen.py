"""Screen texts exactly as the chat does: for each JSON line with a ``text`` field, print
``{"text": ..., "redacted": ..., "crisis": true|false}``. Outside tools rely on this format.

    python manage.py moderation_screen --input messages.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from moderation.crisis import is_crisis
from moderation.redaction import redact


class Command(BaseCommand):
    help = "Redact and crisis-screen JSON Lines (a 'text' field per line), one JSON line out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, help="JSON Lines file, or - for stdin")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["input"]
        if source == "-":
            lines = sys.stdin.read().splitlines()
        else:
            path = Path(source)
            if not path.is_file():
                raise CommandError(f"No such file: {path}. Give a JSON Lines file or '-'.")
            lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(tqdm(lines, desc="screening", file=sys.stderr), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record["text"]
                if not isinstance(text, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError) as exc:
                raise CommandError(
                    f"Line {number}: expected a JSON object with a string field 'text'."
                ) from exc
            self.stdout.write(
                json.dumps(
                    {"text": text, "redacted": redact(text), "crisis": is_crisis(text)},
                    ensure_ascii=False,
                )
            )
