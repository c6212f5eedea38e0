"""Shared parts of the issue-8 benchmarks: a bench database, real server processes, CPU time
read from /proc, open-loop schedules, percentiles and the JSON line each bench prints.

Method (docs/performance.md): the primary figure is server CPU time per operation (user + sys of
the server processes, and of Redis and PostgreSQL when they are on the path); latency is always
printed next to a baseline run interleaved with it (A B A B, fresh processes, warm-up first).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_BASE = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "veivalg_bench"
REDIS_BENCH_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
ORIGIN = "http://127.0.0.1:8000"
TICK = os.sysconf("SC_CLK_TCK")


def steady_heap() -> None:
    """Keep the load generator's own garbage collector out of the figures: everything alive
    now (Django, the bench data) moves to the permanent generation, so a full collection only
    walks what the run itself allocates. Without it a full collection of this process took
    about 95 ms every 20-25 s, and every frame in flight then was measured that much late
    (all of B4's outliers; docs/performance.md)."""
    gc.collect()
    gc.freeze()


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- figures ---------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 2),
        "p95": round(percentile(values, 0.95), 2),
        "p99": round(percentile(values, 0.99), 2),
        "max": round(max(values), 2) if values else float("nan"),
        "n": len(values),
    }


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 2) if baseline else float("nan")


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


# -- CPU and memory from /proc ---------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, children: bool = False) -> float:
    """user + sys of one process (and of its reaped children when asked), in seconds."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def postgres_cpu() -> float:
    """Every PostgreSQL process, plus the postmaster's reaped backends (a short-lived backend's
    time moves there when it exits, so the sum is continuous)."""
    pids = set(pids_named("postgres"))
    total = 0.0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
        if int(fields[1]) not in pids:  # the postmaster: its parent is not a postgres process
            total += (int(fields[13]) + int(fields[14])) / TICK
    return total


def redis_cpu() -> float:
    return sum(cpu_seconds(pid) for pid in pids_named("redis-server"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class CpuMeter:
    """CPU seconds spent by the servers (and Redis/PostgreSQL when ``services``) in a window."""

    servers: list[LiveServer]
    services: bool = False
    start: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        values = {"server": sum(cpu_seconds(s.process.pid) for s in self.servers)}
        if self.services:
            values["redis"] = redis_cpu()
            values["postgres"] = postgres_cpu()
        return values

    def begin(self) -> None:
        self.start = self.read()

    def end(self) -> dict[str, float]:
        now = self.read()
        return {key: now[key] - self.start.get(key, 0.0) for key in now}


# -- the bench database ----------------------------------------------------------------------


def configure(mode: str, work: Path | None = None) -> dict[str, str]:
    """Point this process (before django.setup) and its servers at the bench deployment.
    ``embedded``: a fresh SQLite file + in-memory layer; ``postgres``: database veivalg_bench on
    the local PostgreSQL and a Redis database of its own (flushed first)."""
    env: dict[str, str] = {}
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if mode == "embedded":
        work = work or Path(tempfile.mkdtemp(prefix="veivalg-bench-"))
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("REDIS_URL", None)
        env["VEIVALG_SQLITE_PATH"] = str(work / "bench.sqlite3")
    else:
        import psycopg
        import redis

        with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as pg:
            pg.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            pg.execute(f"CREATE DATABASE {PG_DATABASE}")
        redis.Redis.from_url(REDIS_BENCH_URL).flushdb()
        env["DATABASE_URL"] = f"{PG_BASE}/{PG_DATABASE}"
        env["REDIS_URL"] = REDIS_BENCH_URL
    env["VEIVALG_MESSAGES_PER_10S"] = "100000"
    env["VEIVALG_NEW_CHATS_PER_MINUTE"] = "1000000"
    env["VEIVALG_MAX_ACTIVE_CHATS"] = "1000"
    env["VEIVALG_SUGGESTIONS"] = "0"
    env["VEIVALG_LOG_LEVEL"] = "WARNING"
    # Production settings, as docker-compose.yml runs them (no query log, no debug pages).
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_SECRET_KEY"] = "bench-only-" + secrets.token_hex(24)
    env["DJANGO_SSL_REDIRECT"] = "0"
    os.environ.update(env)
    return env


def setup_world(mode: str) -> dict[str, str]:
    """Migrate, open the service around the clock, and return the server environment."""
    env = configure(mode)
    import django

    django.setup()
    from django.core.management import call_command

    from routing.models import OpeningHours

    call_command("migrate", verbosity=0)
    OpeningHours.objects.all().delete()
    for day in range(7):
        OpeningHours.objects.create(weekday=day, opens="00:00", closes="00:00")
    return env


def staff(name: str, *roles: str) -> tuple[Any, str]:
    """A staff user with ``roles`` and a session cookie value for its sockets."""
    from tests.conftest import make_staff, session_cookie

    user = make_staff(name, *roles, first_name=name.title())
    return user, f"sessionid={session_cookie(user)}"


def active_chats(counsellors: list[Any], count: int) -> list[tuple[str, str, Any]]:
    """``count`` conversations already talking, spread over ``counsellors``: returns
    (visitor token, conversation key, counsellor) for each."""
    from django.utils import timezone

    from chat.models import Conversation
    from chat.selectors import hash_token

    now = timezone.now()
    made = []
    rows = []
    for n in range(count):
        token = secrets.token_urlsafe(32)
        counsellor = counsellors[n % len(counsellors)]
        rows.append(
            Conversation(
                status=Conversation.Status.ACTIVE,
                visitor_token_hash=hash_token(token),
                counsellor=counsellor,
                queued_at=now,
                assigned_at=now,
            )
        )
        made.append((token, counsellor))
    created = Conversation.objects.bulk_create(rows)
    return [(t, str(c.public_id), u) for (t, u), c in zip(made, created, strict=True)]


def waiting_chats(count: int) -> list[tuple[str, str]]:
    """``count`` visitors in the queue (oldest first), each with a first message stored."""
    import datetime as dt

    from django.utils import timezone

    from chat.models import Conversation, Message
    from chat.selectors import hash_token

    start = timezone.now() - dt.timedelta(minutes=30)
    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    created = Conversation.objects.bulk_create(
        Conversation(
            status=Conversation.Status.WAITING,
            visitor_token_hash=hash_token(token),
            queued_at=start + dt.timedelta(milliseconds=n),
            last_seq=1,
        )
        for n, token in enumerate(tokens)
    )
    Message.objects.bulk_create(
        Message(conversation=c, seq=1, sender="visitor", body="Hei", client_id="first")
        for c in created
    )
    return [(t, str(c.public_id)) for t, c in zip(tokens, created, strict=True)]


# -- server processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

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


def command(kind: str, port: int) -> list[str]:
    python = sys.executable
    if kind == "uvicorn":
        return [python, "manage.py", "serve", "--port", str(port)]
    if kind == "daphne":
        return [python, "-m", "daphne", "-v", "0", "-p", str(port), "config.asgi:application"]
    if kind in {"echo", "relay"}:
        flavour = "asgi" if kind == "echo" else "relay"
        return [python, "bench/echo.py", "--kind", flavour, "--port", str(port)]
    raise ValueError(kind)


def start(kind: str, env: dict[str, str], extra: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    log_dir = ROOT / "var" / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{kind}-{port}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command(kind, port),
            cwd=ROOT,
            env={**os.environ, **env, **(extra or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(kind, process, port, log_path)
    deadline = time.monotonic() + 60
    path = "/tilgjengelighet/" if kind in {"uvicorn", "daphne"} else "/"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if kind == "relay":
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            else:
                with urllib.request.urlopen(f"{server.url}{path}", timeout=2):  # noqa: S310
                    pass
            return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{kind} did not start in 60 s")


@contextmanager
def running(
    kind: str, env: dict[str, str], count: int = 1, extra: dict[str, str] | None = None
) -> Iterator[list[LiveServer]]:
    servers = [start(kind, env, extra) for _ in range(count)]
    steady_heap()
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


# -- clients ---------------------------------------------------------------------------------


async def open_socket(url: str, cookie: str | None = None) -> Any:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    headers = {"Cookie": cookie} if cookie else None
    return await connect(
        url, origin=Origin(ORIGIN), additional_headers=headers, max_size=4 * 1024 * 1024
    )


async def until(ws: Any, frame_type: str, wait: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(wait):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == frame_type:
                return frame


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.perf_counter()))
