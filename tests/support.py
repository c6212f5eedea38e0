"""Real server processes for the tests: ``manage.py serve`` (uvicorn) on a free loopback port,
sharing the test database (and Redis, when the suite runs on Redis) with the test process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings.get("USER") or "postgres"
        host = settings.get("HOST") or "127.0.0.1"
        port = settings.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{settings['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
        env["VEIVALG_SQLITE_PATH"] = str(settings["NAME"])
    env["VEIVALG_LOG_LEVEL"] = "INFO"
    env.setdefault("VEIVALG_NEW_CHATS_PER_MINUTE", "100000")  # the suite is not a flood
    return env


@dataclass
class LiveServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def restart(self) -> LiveServer:
        """Stop (if running) and start again on the same port, as a deploy would."""
        self.stop()
        fresh = start_server(port=self.port, env=self.env)
        self.process = fresh.process
        return self


def start_server(port: int | None = None, env: dict[str, str] | None = None) -> LiveServer:
    port = port or free_port()
    log_dir = ROOT / "var" / "test-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env={**server_env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, port, log_path, env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/tilgjengelighet/", timeout=2):  # noqa: S310
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start in 30 s:\n{server.log()}")
