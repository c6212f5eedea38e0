"""Crisis signals (self-harm, suicide, violence, abuse at home) in bokmål, nynorsk and English.

High recall first: a false alarm costs a counsellor a glance, a missed one can cost a life. The
list is data (``CrisisTerm``, editable in the admin); edits take effect within a minute.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "crisis_terms.json"
CACHE_SECONDS = 60.0
_TRANSLITERATE = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "ae", "ö": "o", "é": "e"})


@dataclass(frozen=True)
class Compiled:
    strong: list[tuple[str, re.Pattern[str]]]
    weak: list[tuple[str, re.Pattern[str]]]
    career: re.Pattern[str]


_cache: tuple[float, Compiled] | None = None


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().translate(_TRANSLITERATE)
    text = text.replace("aa", "a")
    text = re.sub(r"[^\w'\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _compile(rows: list[tuple[str, str, bool]], career: str) -> Compiled:
    strong: list[tuple[str, re.Pattern[str]]] = []
    weak: list[tuple[str, re.Pattern[str]]] = []
    for pattern, category, is_weak in rows:
        try:
            compiled = re.compile(pattern)
        except re.error:
            continue  # a broken staff edit must not silence the others
        (weak if is_weak else strong).append((category, compiled))
    return Compiled(strong, weak, re.compile(career))


def _terms() -> Compiled:
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < CACHE_SECONDS:
        return _cache[1]
    data = json.loads(DATA.read_text(encoding="utf-8"))
    rows: list[tuple[str, str, bool]]
    try:
        from moderation.models import CrisisTerm

        rows = list(
            CrisisTerm.objects.filter(active=True).values_list("pattern", "category", "weak")
        )
    except Exception:  # no database (a management command before migrate): the shipped list
        rows = []
    if not rows:
        rows = [(t["pattern"], t["category"], t["weak"]) for t in data["terms"]]
    compiled = _compile(rows, data["career_context"])
    _cache = (now, compiled)
    return compiled


def reset_cache() -> None:
    global _cache
    _cache = None


def crisis_categories(text: str) -> list[str]:
    """The crisis categories ``text`` signals (empty when none)."""
    terms = _terms()
    clean = normalise(text)
    found = [category for category, pattern in terms.strong if pattern.search(clean)]
    if not terms.career.search(clean):
        found += [category for category, pattern in terms.weak if pattern.search(clean)]
    return sorted(set(found))


def is_crisis(text: str) -> bool:
    return bool(crisis_categories(text))
