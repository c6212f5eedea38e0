"""Product settings, read at call time so tests and deployments can override them."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def setting(name: str) -> Any:
    return settings.VEIVALG[name]


def max_message_chars() -> int:
    return int(setting("MAX_MESSAGE_CHARS"))


def max_frame_bytes() -> int:
    return int(setting("MAX_FRAME_BYTES"))


def max_active_chats() -> int:
    return int(setting("MAX_ACTIVE_CHATS"))


def visitor_cookie_name() -> str:
    return str(setting("VISITOR_COOKIE_NAME"))


def visitor_cookie_age() -> int:
    return int(setting("VISITOR_COOKIE_AGE"))


def resume_batch() -> int:
    return int(setting("RESUME_BATCH"))
