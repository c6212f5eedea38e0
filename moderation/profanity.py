"""Profanity is flagged for the counsellor, never blocked or hidden."""

from __future__ import annotations

import re

from moderation.crisis import normalise

_WORDS = (
    r"faen|fanden|helvete|jaevla|javla|jævla|dritt|drittsekk|kuk|fitte|hore|horunge|"
    r"satan|forbanna|forbannet|pokker|idiot|dust|fuck\w*|shit\w*|bitch\w*|cunt|asshole|bastard"
)
_PATTERN = re.compile(rf"\b(?:{_WORDS})\b")


def has_profanity(text: str) -> bool:
    return bool(_PATTERN.search(normalise(text)))
