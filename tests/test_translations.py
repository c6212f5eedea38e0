"""Every user-facing string is translated to bokmål and nynorsk, and nothing is fuzzy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def entries(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) for every entry but the header."""
    result = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        if block.startswith("#~") or "msgid" not in block:
            continue
        found = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        if found is None:
            continue
        msgid = "".join(re.findall(r'"(.*)"', found.group(1)))
        strings = re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', block, re.M)
        msgstr = "|".join("".join(re.findall(r'"(.*)"', s)) for s in strings)
        if msgid:
            result.append((msgid, msgstr, "fuzzy" in block.split("msgid")[0]))
    return result


@pytest.mark.parametrize("language", ["nb", "nn"])
def test_catalogue_is_complete(language: str) -> None:
    found = entries(ROOT / "locale" / language / "LC_MESSAGES" / "django.po")
    assert len(found) > 300
    missing = [
        msgid
        for msgid, msgstr, _fuzzy in found
        if not msgstr or msgstr.startswith("|") or msgstr.endswith("|")
    ]
    fuzzy = [msgid for msgid, _msgstr, is_fuzzy in found if is_fuzzy]
    assert missing == []
    assert fuzzy == []


def test_placeholders_survive_translation() -> None:
    for language in ("nb", "nn"):
        for msgid, msgstr, _fuzzy in entries(
            ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
        ):
            wanted = sorted(re.findall(r"%\(\w+\)s", msgid))
            for variant in msgstr.split("|"):
                assert sorted(re.findall(r"%\(\w+\)s", variant)) == wanted, (language, msgid)
