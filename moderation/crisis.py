"""Crisis signals (self-harm, suicide, violence, abuse at home) in bokmål, nynorsk and English.

High recall first: a false alarm costs a counsellor a glance, a missed one can cost a life. The
list is data (``CrisisTerm``, editable in the admin); edits take effect within a minute.
"""

from __future__ import annotations

import importlib
import json
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "crisis_terms.json"
CACHE_SECONDS = 60.0
# The regex parser is private to ``re`` (typeshed does not always list it): imported by name.
sre: Any = importlib.import_module("re._parser")
_TRANSLITERATE = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "ae", "ö": "o", "é": "e"})


# A term with the strings every one of its matches starts with (None: always searched).
Term = tuple[str, re.Pattern[str], frozenset[str] | None]


@dataclass(frozen=True)
class Compiled:
    strong: list[Term]
    weak: list[Term]
    career: re.Pattern[str]


PREFIX_CHARS = 5  # longer prefixes select little more, and there would be more of them
MAX_PREFIXES = 64


def _prefixes(items: Any) -> tuple[set[str], bool]:
    """The strings a match of the parsed sequence ``items`` can start with, and whether they
    are the whole match. Zero-width assertions are skipped: leaving out a condition only lets
    more through, so the set stays one every real match starts with."""
    out = {""}
    for op, av in items:
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue
        complete = True
        if op is sre.LITERAL:
            inner = {chr(av)}
        elif op is sre.IN and all(kind is sre.LITERAL for kind, _v in av):
            inner = {chr(v) for _k, v in av}
        elif op is sre.SUBPATTERN and not av[1] and not av[2]:  # a group without flags
            inner, complete = _prefixes(av[3])
        elif op is sre.BRANCH:
            inner = set()
            for alternative in av[1]:
                found, whole = _prefixes(alternative)
                inner |= found
                complete = complete and whole
        else:
            return out, False
        combined = {(a + b)[:PREFIX_CHARS] for a in out for b in inner}
        if len(combined) > MAX_PREFIXES:
            return out, False
        out = combined
        if not complete or all(len(x) >= PREFIX_CHARS for x in out):
            return out, False
    return out, True


def literal_prefixes(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings of at least two characters one of which starts every match of ``pattern``, so a
    text containing none of them cannot match: 90 terms' searches cost about 130 µs per visitor
    message, most of it for texts that contain none of their first words. None when the
    pattern does not say (a character class first, a flag, an optional first word)."""
    if pattern.flags & (re.IGNORECASE | re.LOCALE):
        return None
    try:
        found, _whole = _prefixes(sre.parse(pattern.pattern))
    except Exception:  # a pattern the parser reads differently: search it always
        return None
    if not found or min(len(x) for x in found) < 2:
        return None
    return frozenset(found)


def _hit(term: Term, clean: str) -> bool:
    _category, pattern, prefixes = term
    if prefixes is not None and not any(p in clean for p in prefixes):
        return False
    return pattern.search(clean) is not None


_cache: tuple[float, Compiled] | None = None


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().translate(_TRANSLITERATE)
    text = text.replace("aa", "a")
    text = re.sub(r"[^\w'\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _compile(rows: list[tuple[str, str, bool]], career: str) -> Compiled:
    strong: list[Term] = []
    weak: list[Term] = []
    for pattern, category, is_weak in rows:
        try:
            compiled = re.compile(pattern)
        except re.error:
            continue  # a broken staff edit must not silence the others
        (weak if is_weak else strong).append((category, compiled, literal_prefixes(compiled)))
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
    found = [term[0] for term in terms.strong if _hit(term, clean)]
    if not terms.career.search(clean):
        found += [term[0] for term in terms.weak if _hit(term, clean)]
    return sorted(set(found))


def is_crisis(text: str) -> bool:
    return bool(crisis_categories(text))
