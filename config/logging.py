"""Logging helpers: no IP address ever reaches a log line."""

from __future__ import annotations

import logging
import re

# IPv4 (optionally with port) and bracketed or bare IPv6 addresses, as servers print them.
_IPV4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
_IPV6 = r"\[?\b(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}\b\]?"
_PEER_TUPLE = r"\(\s*'[^']*'\s*,\s*\d+\s*\)"
_IP_PATTERN = re.compile(f"{_PEER_TUPLE}|{_IPV4}|{_IPV6}")


def scrub_ip(text: str) -> str:
    """Replace every IP address (and ``('host', port)`` peer tuple) in ``text``."""
    return _IP_PATTERN.sub("[ip]", text)


class NoIPFilter(logging.Filter):
    """Render the record, remove IP addresses, and keep it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub_ip(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
