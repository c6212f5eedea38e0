"""Flood control.

Per socket (messages, typing): counted in the socket's own process, where the socket lives.
Service-wide (new conversations per minute): one counter shared by every process, in Redis
where Redis runs (fixed one-minute windows, INCR + EXPIRE), in memory in the embedded mode.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from functools import lru_cache

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from chat.errors import DomainError


class RateLimited(DomainError):
    code = "rate_limited"
    message = _("You are sending too fast. Wait a moment and try again.")
    http_status = 429


class TooManyNewChats(DomainError):
    code = "too_many_new_chats"
    message = _("Very many chats are starting right now. Please try again in a minute.")
    http_status = 429


class SlidingWindow:
    """At most ``limit`` events per ``seconds`` (one socket's own counter)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.events: deque[float] = deque()

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        while self.events and now - self.events[0] >= self.seconds:
            self.events.popleft()
        if len(self.events) >= self.limit:
            return False
        self.events.append(now)
        return True


_memory: dict[str, tuple[int, int]] = {}
_memory_lock = threading.Lock()


@lru_cache(maxsize=1)
def _redis(url: str) -> object:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def allow_shared(name: str, limit: int, seconds: int = 60) -> bool:
    """One more event of ``name`` in this window, if under ``limit`` (across all processes)."""
    window = int(time.time() // seconds)
    key = f"veivalg:rate:{name}:{window}"
    url = getattr(settings, "REDIS_URL", "")
    if url:
        client = _redis(url)
        try:
            count = client.incr(key)  # type: ignore[attr-defined]
            if count == 1:
                client.expire(key, seconds * 2)  # type: ignore[attr-defined]
            return int(count) <= limit
        except Exception:
            return True  # Redis down: flood control must not close the service
    with _memory_lock:
        current, count = _memory.get(name, (window, 0))
        if current != window:
            current, count = window, 0
        _memory[name] = (current, count + 1)
        return count + 1 <= limit


def reset_shared(name: str) -> None:
    """Forget the current window of ``name`` (operations: after a false alarm; tests)."""
    with _memory_lock:
        _memory.pop(name, None)
    url = getattr(settings, "REDIS_URL", "")
    if url:
        client = _redis(url)
        for key in client.scan_iter(f"veivalg:rate:{name}:*"):  # type: ignore[attr-defined]
            client.delete(key)  # type: ignore[attr-defined]


def count_shared(name: str, seconds: int = 60) -> int:
    """How many events of ``name`` the current window holds (without adding one)."""
    window = int(time.time() // seconds)
    url = getattr(settings, "REDIS_URL", "")
    if url:
        try:
            value = _redis(url).get(f"veivalg:rate:{name}:{window}")  # type: ignore[attr-defined]
            return int(value or 0)
        except Exception:
            return 0
    with _memory_lock:
        current, count = _memory.get(name, (window, 0))
        return count if current == window else 0
