"""Run the ASGI app under uvicorn with our logging: no access log, no IP address anywhere."""

from __future__ import annotations

from typing import Any

import uvicorn
from django.core.management.base import BaseCommand, CommandParser

# Shared with bench/echo.py, so the raw-echo baseline runs on exactly these server settings.
UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,  # Django's LOGGING (with the IP filter) is already in force
    "access_log": False,
    "lifespan": "on",
    "proxy_headers": False,
    "server_header": False,
    "ws_max_size": 1024 * 1024,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
    # Frames are a few hundred bytes: compressing each cost about 4 % of a message's CPU
    # (py-spy, docs/performance.md) to save a hundred bytes.
    "ws_per_message_deflate": False,
    # A deploy's SIGTERM: stop within 5 s even if a channel-layer receive is slow to cancel
    # (clients reconnect and resume; tests/test_faults.py).
    "timeout_graceful_shutdown": 5,
}


class Command(BaseCommand):
    help = "Serve Veivalg (HTTP and WebSockets) with uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        uvicorn.run(
            "config.asgi:application",
            host=options["host"],
            port=options["port"],
            **UVICORN_OPTIONS,
        )
