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


def auto_assign() -> bool:
    return bool(setting("AUTO_ASSIGN"))


def grace_seconds() -> int:
    return int(setting("GRACE_SECONDS"))


def visitor_grace_seconds() -> int:
    return int(setting("VISITOR_GRACE_SECONDS"))


def county_preference_seconds() -> int:
    return int(setting("COUNTY_PREFERENCE_SECONDS"))


def db_threads() -> str:
    return str(setting("DB_THREADS"))


def direct_sends() -> bool:
    return bool(setting("DIRECT_SENDS"))


def db_pool_threads() -> int:
    return int(setting("DB_POOL_THREADS"))


def heartbeat_seconds() -> float:
    return float(setting("HEARTBEAT_SECONDS"))


def presence_timeout_seconds() -> int:
    return int(setting("PRESENCE_TIMEOUT_SECONDS"))


def sweep_seconds() -> float:
    return float(setting("SWEEP_SECONDS"))


def default_chat_seconds() -> int:
    return int(setting("DEFAULT_CHAT_MINUTES")) * 60


def service_phone() -> str:
    return str(setting("SERVICE_PHONE"))


def alert_wait_seconds() -> int:
    return int(setting("ALERT_WAIT_SECONDS"))


def suppression_threshold() -> int:
    return int(setting("SUPPRESSION_THRESHOLD"))


def retention_days() -> int:
    return int(setting("RETENTION_DAYS"))


def rate_limits() -> dict[str, int]:
    return {
        "message": int(setting("MESSAGES_PER_10S")),
        "typing": int(setting("TYPING_PER_10S")),
        "new_chat": int(setting("NEW_CHATS_PER_MINUTE")),
        "violations": int(setting("VIOLATIONS_BEFORE_CLOSE")),
    }


def suggestions_enabled() -> bool:
    return bool(setting("SUGGESTIONS"))


def knowledge_embedder() -> str:
    return str(setting("KNOWLEDGE_EMBEDDER"))


def knowledge_threads() -> int:
    return int(setting("KNOWLEDGE_THREADS"))


def knowledge_cache_dir() -> str:
    return str(setting("KNOWLEDGE_CACHE_DIR"))


def suggestion_limit() -> int:
    return int(setting("SUGGESTION_LIMIT"))


def suggestion_messages() -> int:
    return int(setting("SUGGESTION_MESSAGES"))
