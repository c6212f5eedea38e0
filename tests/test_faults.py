"""Fault injection (issue 8): 100 chats on two real server processes while the platform breaks.

The test starts its own Redis (``redis-server`` on a free loopback port, no persistence) and its
own PostgreSQL cluster (``initdb`` in a temporary directory, run as the ``postgres`` user, trust
auth, loopback only), migrates it, creates 20 counsellors with sessions and round-the-clock
opening hours, and starts two ``manage.py serve`` (uvicorn) processes on them, configured as in
production (``DATABASE_URL`` + ``REDIS_URL``; only the per-socket message limit is raised, for
desks answering five chats on one socket). It never touches the machine's shared PostgreSQL
(:5432) or Redis (:6379), which other runs use. Everything is removed at the end.

100 visitors (HTTP ``POST /api/chat/`` for the cookie, then ``/ws/chat/``) and 20 counsellor
desks (``/ws/desk/`` with a session cookie, 5 chats each: ``VEIVALG_MAX_ACTIVE_CHATS``) connect
to the two servers alternately. A visitor sends a message every 1–2 s; a desk answers a chat's
newest visitor message (``svar <seq>``) at most every 2.5 s, as a person typing would. Every
client reconnects on any close or error (its own server first, then the other, with a short
backoff), sends ``resume`` with the last ``seq`` it holds, and sends every unacknowledged message
again with the same ``client_id``; after an ``error`` frame it retries that message backing off
1, 2, 4, 8 s. While traffic flows, the test injects in turn:

1. SIGKILL of one server process, then a restart on the same port;
2. Redis ``SHUTDOWN NOSAVE`` (all channel-layer state lost), then Redis again;
3. Redis stalled for 5 s (``DEBUG SLEEP 5``);
4. every Redis client connection reset (``CLIENT KILL TYPE normal``);
5. PostgreSQL stopped for 10 s, then started again;
6. a rolling deploy: both servers restarted one after the other (SIGTERM, start).

After every fault (and before the first) it asserts that every chat talks live again: a visitor
message sent after the fault reaches the desk and the desk's answer reaches the visitor, within
60 s (no client reconnects for that unless its socket was closed). After the faults the visitors
stop, the outboxes drain, three extra visitors queue (every counsellor is full), three chats are
ended by their visitors so that the extra ones are served, every client resumes once more, and
the test asserts, querying the private PostgreSQL directly:

- every acknowledged message exists exactly once (conversation + sender + client_id), with the
  acknowledged ``seq`` and body; no client_id of ours is stored twice;
- every participant holds ``seq`` 1..n of its conversations without gaps or duplicates
  (n = ``last_seq`` in the database) and every body/sender/client_id it holds matches the
  database; no socket ever delivered a repeat or skipped a ``seq``, and no ``ack`` changed;
- every send never acknowledged is stored at most once, and if not stored the client got an
  ``error`` frame for it;
- no chat is stuck: every open conversation is active with a counsellor whose desk is connected
  (and live in ``routing_presence``) and whose desk shows exactly its active chats; nothing of
  ours was abandoned or closed by the system;
- the queue every desk sees (its latest ``queue.snapshot``) equals the database's waiting list,
  in queue order, both while three chats wait and after they are served;
- both server processes are still running (none died of a fault).

Progress goes to stderr (``-s``). About 1¾–2¼ minutes on the 2-core machine. A SIGTERM'd server
often waits the full 10 s of ``LiveServer.stop`` for its SIGKILL: uvicorn's graceful shutdown
waits for a consumer whose cancelled channel-layer receive never finishes cancelling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Origin

from tests.conftest import shared_deployment
from tests.support import ROOT, LiveServer, free_port, start_server

pytestmark = [pytest.mark.multiprocess, shared_deployment, pytest.mark.timeout(420)]

ORIGIN = Origin("http://127.0.0.1:8000")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
VISITORS = 100
COUNSELLORS = 20
CHATS_PER_COUNSELLOR = 5  # 20 × 5 = 100 places: every chat is served, extras have to wait
EXTRA_VISITORS = 3
SEND_EVERY = (1.0, 2.0)  # seconds between a visitor's messages
ANSWER_EVERY = 2.5  # a desk answers a chat's newest visitor message at most this often
RETRY_SILENT = 15.0  # a message neither acknowledged nor refused on a live socket goes again
PROGRESS_TIMEOUT = 60.0  # every chat must talk live again within this after a fault
OPEN_STATES = {"new", "waiting", "active"}
T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[faults {time.monotonic() - T0:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- private services ----------------------------------------------------------------------


def _as_postgres(*argv: str) -> list[str]:
    """initdb refuses root: run the PostgreSQL tools as the ``postgres`` user when we are root."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


class PrivatePostgres:
    """A throwaway cluster in ``root``: loopback, trust auth, no fsync."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/veivalg"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        result = subprocess.run(
            _as_postgres(*argv), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout}\n{result.stderr}")

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            *("-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
            "--no-sync",
        )
        self.start()
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "veivalg")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.root / "postgres.log")),
            *("-w", "-t", "30", "-o", options, "start"),
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "30", "-m", mode, "stop"
        )

    def destroy(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, connect_timeout=5, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


class PrivateRedis:
    """A redis-server child process on a free loopback port, without persistence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        version = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
        found = re.search(r"v=(\d+)\.", version)
        self.debug_flag = ["--enable-debug-command", "yes"] if found and int(found[1]) >= 7 else []

    def start(self) -> None:
        with (self.root / "redis.log").open("ab") as out:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                    *("--appendonly", "no", "--daemonize", "no", "--dir", str(self.root)),
                    *self.debug_flag,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "redis.log").read_text(errors="replace"))
            with contextlib.suppress(redis.RedisError), self.client() as client:
                if client.ping():
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start in 15 s")

    def client(self, timeout: float = 2) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout, socket_connect_timeout=2
        )

    def shutdown_nosave(self) -> None:
        with contextlib.suppress(redis.ConnectionError), self.client() as client:
            client.shutdown(nosave=True)
        assert self.process is not None
        self.process.wait(timeout=15)

    def stall(self, seconds: int) -> None:
        with self.client(timeout=seconds + 10) as client:
            client.execute_command("DEBUG", "SLEEP", str(seconds))

    def kill_clients(self) -> int:
        with self.client() as client:
            return int(client.client_kill_filter(_type="normal"))

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


SETUP_SCRIPT = """
import datetime as dt, json, sys
import django
django.setup()
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from reports.reference import ensure_taxonomy
from routing.models import OpeningHours
from routing.reference import ensure_reference_data

call_command("migrate", verbosity=0)
ensure_reference_data()
ensure_taxonomy()
OpeningHours.objects.all().delete()
for day in range(7):
    OpeningHours.objects.create(weekday=day, opens=dt.time(0), closes=dt.time(0))
counsellors = Group.objects.get_or_create(name="counsellor")[0]
sessions = {}
for name in sys.argv[1:]:
    user = User.objects.create_user(
        username=name, password="fault-pass-123", first_name=name.title()
    )
    user.groups.add(counsellors)
    client = Client()
    client.force_login(user)
    sessions[name] = client.cookies["sessionid"].value
print(json.dumps(sessions))
"""


def setup_database(database_url: str, usernames: list[str]) -> dict[str, str]:
    """Migrate the private database, open the chat around the clock, create the counsellors;
    returns their session keys (stored in that database)."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", SETUP_SCRIPT, *usernames],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    sessions: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return sessions


# -- clients -------------------------------------------------------------------------------


@dataclass
class Outgoing:
    conversation: str
    client_id: str
    body: str
    created: float
    last_sent: float = 0.0
    sends: int = 0
    acked_seq: int | None = None
    errors: list[str] = field(default_factory=list)
    refused: bool = False  # an error frame came after the last send
    retry_at: float = 0.0  # when a refused message goes again (backing off 1, 2, 4, 8 s)
    dropped: bool = False  # refused for good (the chat left this desk): reported, not retried


@dataclass
class Totals:
    messages: int = 0
    sends: int = 0
    resends: int = 0
    acks: int = 0
    duplicate_acks: int = 0
    drops: int = 0
    failed_connects: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    anomalies: list[str] = field(default_factory=list)
    ack_delays: list[float] = field(default_factory=list)  # created → first ack, this phase

    def counts(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "resends": self.resends,
            "duplicate_acks": self.duplicate_acks,
            "drops": self.drops,
            "failed_connects": self.failed_connects,
            "errors": sum(self.errors.values()),
        }

    def summary(self) -> str:
        return (
            f"messages={self.messages} sends={self.sends} resends={self.resends} "
            f"acks={self.acks} duplicate_acks={self.duplicate_acks} "
            f"drops={self.drops} failed_connects={self.failed_connects} "
            f"errors={dict(self.errors)} anomalies={len(self.anomalies)}"
        )


class Participant:
    """One socket's worth of client: reconnects, resumes, dedupes by seq, resends the outbox."""

    path = ""

    def __init__(self, name: str, servers: list[LiveServer], home: int, totals: Totals) -> None:
        self.name = name
        self.servers = servers
        self.home = home
        self.totals = totals
        self.held: dict[str, dict[int, tuple[str, str, str]]] = defaultdict(dict)
        self.sent: dict[str, Outgoing] = {}
        self.outbox: dict[str, Outgoing] = {}
        self.ws: ClientConnection | None = None
        self.ready = False
        self.stopping = False
        self.resumed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.resume_again: dict[str, float] = {}  # refused resumes, and when to ask again
        self.tasks: list[asyncio.Task[None]] = []

    # -- plumbing

    def cookie(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.run()), asyncio.create_task(self.pump())]

    async def stop(self) -> None:
        self.stopping = True
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)

    async def run(self) -> None:
        failures = 0
        while not self.stopping:
            server = self.servers[(self.home + failures) % len(self.servers)]
            try:
                async with connect(
                    f"{server.ws_url}{self.path}",
                    origin=ORIGIN,
                    additional_headers={"Cookie": self.cookie()},
                    open_timeout=5,
                    close_timeout=2,
                ) as ws:
                    self.ws = ws
                    failures = 0
                    async for raw in ws:
                        await self.on_frame(json.loads(raw))
                    code = ws.close_code
                if code in {4401, 4403, 1008}:
                    self.totals.anomalies.append(f"{self.name}: closed by the server ({code})")
            except (OSError, WebSocketException, TimeoutError):
                if self.ws is None:
                    failures += 1
                    self.totals.failed_connects += 1
            except Exception as exc:  # a bug in this client: fail the test, keep the traffic
                self.totals.anomalies.append(f"{self.name}: client failed: {exc!r}")
            finally:
                if self.ws is not None:
                    self.totals.drops += 1
                self.ws = None
                self.ready = False
            if self.stopping:
                return
            await asyncio.sleep(min(2.0, 0.2 * 2 ** min(failures, 4)) * random.uniform(0.5, 1.0))

    async def send(self, frame: dict[str, Any]) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed:
            return False
        return True

    async def transmit(self, out: Outgoing, *, again: bool) -> None:
        if not self.ready:
            return
        frame: dict[str, Any] = {
            "type": "message.send",
            "client_id": out.client_id,
            "body": out.body,
            "ref": out.client_id,
        }
        if self.path == "/ws/desk/":
            frame["conversation"] = out.conversation
        out.last_sent = time.monotonic()
        out.refused = False
        if await self.send(frame):
            out.sends += 1
            self.totals.sends += 1
            if again:
                self.totals.resends += 1

    async def queue_message(self, conversation: str, client_id: str, body: str) -> None:
        if client_id in self.sent:
            return
        out = Outgoing(conversation, client_id, body, time.monotonic())
        self.sent[client_id] = self.outbox[client_id] = out
        self.totals.messages += 1
        await self.transmit(out, again=False)

    async def flush_outbox(self, everything: bool = False) -> None:
        """Send what is unacknowledged: everything after a reconnect, otherwise what was never
        sent, what the server refused with an error frame, and what has waited very long."""
        now = time.monotonic()
        for out in list(self.outbox.values()):
            waited = now - out.last_sent
            if (
                everything
                or out.sends == 0
                or (out.refused and now >= out.retry_at)
                or waited >= RETRY_SILENT
            ):
                await self.transmit(out, again=out.sends > 0)

    async def pump(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            try:
                await self.tick()
            except Exception as exc:  # a bug in this client: fail the test, keep the traffic
                self.totals.anomalies.append(f"{self.name}: client failed: {exc!r}")

    async def tick(self) -> None:
        """Talk (subclasses); send again what the server refused or left unanswered."""
        now = time.monotonic()
        for conversation, when in list(self.resume_again.items()):
            if now >= when:
                await self.resume(conversation)
        await self.flush_outbox()

    def contiguous(self, conversation: str) -> int:
        held = self.held[conversation]
        seq = 0
        while seq + 1 in held:
            seq += 1
        return seq

    async def resume(self, conversation: str) -> None:
        self.resumed[conversation].clear()
        self.resume_again.pop(conversation, None)
        frame: dict[str, Any] = {
            "type": "resume",
            "last_seq": self.contiguous(conversation),
            "ref": f"resume:{conversation}",
        }
        if self.path == "/ws/desk/":
            frame["conversation"] = conversation
        await self.send(frame)

    # -- frames

    async def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "message":
            await self.on_message(frame)
        elif kind == "ack":
            self.on_ack(frame)
        elif kind == "error":
            self.on_error(frame)
        elif kind == "resumed":
            await self.on_resumed(frame)
        elif kind == "hello":
            await self.on_hello(frame)
        else:
            await self.on_other(frame)

    async def on_message(self, frame: dict[str, Any]) -> None:
        conversation, seq = frame["conversation"], frame["seq"]
        held = self.held[conversation]
        entry = (frame["sender"], frame["body"], frame["client_id"])
        if seq in held:
            self.totals.anomalies.append(f"{self.name}: seq {seq} of {conversation} repeated")
            if held[seq] != entry:
                self.totals.anomalies.append(f"{self.name}: seq {seq} changed: {entry}")
            return
        if seq != self.contiguous(conversation) + 1:
            self.totals.anomalies.append(
                f"{self.name}: seq {seq} of {conversation} after {self.contiguous(conversation)}"
            )
        held[seq] = entry

    def on_ack(self, frame: dict[str, Any]) -> None:
        out = self.sent.get(frame["client_id"])
        if out is None or frame["conversation"] != out.conversation:
            self.totals.anomalies.append(f"{self.name}: ack for an unknown message: {frame}")
            return
        if out.acked_seq is not None and out.acked_seq != frame["seq"]:
            self.totals.anomalies.append(f"{self.name}: {out.client_id} acked as two seqs")
        if frame["duplicate"]:
            self.totals.duplicate_acks += 1
        if out.acked_seq is None:
            self.totals.acks += 1
            self.totals.ack_delays.append(time.monotonic() - out.created)
        out.acked_seq = frame["seq"]
        self.outbox.pop(out.client_id, None)

    def on_error(self, frame: dict[str, Any]) -> None:
        code, ref = str(frame.get("code")), str(frame.get("ref"))
        self.totals.errors[code] += 1
        if ref.startswith("resume:") and code == "internal_error":
            self.resume_again[ref.removeprefix("resume:")] = time.monotonic() + 1.0
            return
        out = self.sent.get(ref)
        if out is None:
            self.totals.anomalies.append(f"{self.name}: error for no message of ours: {frame}")
            return
        out.errors.append(code)
        out.refused = True
        out.retry_at = time.monotonic() + min(8.0, 2.0 ** (len(out.errors) - 1))
        if code in {"not_your_conversation", "conversation_closed"}:
            out.dropped = True  # the chat left this desk: reported to the sender, not retried
            self.outbox.pop(out.client_id, None)

    async def on_resumed(self, frame: dict[str, Any]) -> None:
        self.resumed[frame["conversation"]].set()

    async def on_hello(self, frame: dict[str, Any]) -> None:
        raise NotImplementedError

    async def on_other(self, frame: dict[str, Any]) -> None:
        return


class Visitor(Participant):
    path = "/ws/chat/"

    def __init__(
        self, index: int, servers: list[LiveServer], totals: Totals, *, talk: bool = True
    ) -> None:
        super().__init__(f"visitor-{index}", servers, index % len(servers), totals)
        self.index = index
        self.talking = talk
        self.token = ""
        self.conversation = ""
        self.answered = 0  # the newest own seq the counsellor has answered
        self.status = ""
        self.counter = 0
        self.next_message = time.monotonic() + random.uniform(*SEND_EVERY)

    async def open_chat(self) -> None:
        server = self.servers[self.home]
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            await client.get("/")
            response = await client.post(
                "/api/chat/",
                json={"language": "nb"},
                headers={"X-CSRFToken": client.cookies["csrftoken"]},
            )
            assert response.status_code == 201, response.text
            self.token = str(response.cookies["veivalg_visitor"])
            self.conversation = str(response.json()["conversation"])

    def cookie(self) -> str:
        return f"veivalg_visitor={self.token}"

    async def say_something(self) -> None:
        self.counter += 1
        await self.queue_message(
            self.conversation,
            f"{self.name}-{self.counter}",
            f"melding {self.counter} fra besøkende {self.index}",
        )

    async def tick(self) -> None:
        now = time.monotonic()
        if self.talking and self.ready and now >= self.next_message:
            await self.say_something()
            self.next_message = now + random.uniform(*SEND_EVERY)
        await super().tick()

    async def on_hello(self, frame: dict[str, Any]) -> None:
        self.ready = False
        self.status = frame["status"]
        await self.resume(self.conversation)

    async def on_resumed(self, frame: dict[str, Any]) -> None:
        if not self.ready:  # the resume after connecting: now the outbox goes again
            self.ready = True
            await self.flush_outbox(everything=True)
        await super().on_resumed(frame)

    async def on_message(self, frame: dict[str, Any]) -> None:
        await super().on_message(frame)
        if frame["sender"] == "counsellor" and frame["body"].startswith("svar "):
            self.answered = max(self.answered, int(frame["body"].split()[1]))

    async def on_other(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "status":
            self.status = frame["status"]

    def progressed_since(self, since: float) -> bool:
        """A message sent after ``since`` was stored, reached the desk and was answered."""
        return any(
            out.created >= since and out.acked_seq is not None and out.acked_seq <= self.answered
            for out in self.sent.values()
        )


class Desk(Participant):
    path = "/ws/desk/"

    def __init__(
        self, index: int, username: str, session: str, servers: list[LiveServer], totals: Totals
    ) -> None:
        super().__init__(f"desk-{username}", servers, index % len(servers), totals)
        self.username = username
        self.session = session
        self.tracked: set[str] = set()
        self.on_shift = False
        self.newest: dict[str, int] = defaultdict(int)  # newest visitor seq per chat
        self.answered: dict[str, int] = defaultdict(int)  # newest visitor seq answered
        self.answered_at: dict[str, float] = defaultdict(float)
        self.snapshot: dict[str, Any] | None = None

    def cookie(self) -> str:
        return f"sessionid={self.session}"

    async def on_hello(self, frame: dict[str, Any]) -> None:
        self.tracked = {summary["conversation"] for summary in frame["conversations"]}
        self.snapshot = frame["queue"]
        self.on_shift = frame["on_shift"]
        if not self.on_shift:
            await self.send({"type": "shift.start", "ref": "shift"})
        for conversation in self.tracked:
            await self.resume(conversation)
        self.ready = True
        await self.flush_outbox(everything=True)

    async def on_other(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "conversation.assigned":
            if frame["conversation"] not in self.tracked:
                self.tracked.add(frame["conversation"])
                await self.resume(frame["conversation"])
        elif kind == "conversation.unassigned":
            self.tracked.discard(frame["conversation"])
        elif kind == "queue.snapshot":
            self.snapshot = frame
        elif kind == "shift":
            self.on_shift = frame["on_shift"]

    async def on_message(self, frame: dict[str, Any]) -> None:
        await super().on_message(frame)
        conversation = frame["conversation"]
        if frame["sender"] == "visitor":
            self.newest[conversation] = max(self.newest[conversation], frame["seq"])
            await self.answer(conversation)

    async def answer(self, conversation: str) -> None:
        """Answer the newest visitor message, as a person would: not more than every few s."""
        newest, now = self.newest[conversation], time.monotonic()
        if (
            conversation in self.tracked
            and newest > self.answered[conversation]
            and now - self.answered_at[conversation] >= ANSWER_EVERY
        ):
            self.answered[conversation], self.answered_at[conversation] = newest, now
            await self.queue_message(
                conversation, f"{self.username}-{conversation[:8]}-{newest}", f"svar {newest}"
            )

    async def tick(self) -> None:
        for conversation in set(self.resume_again) - self.tracked:
            del self.resume_again[conversation]
        if self.ready:
            for conversation in list(self.tracked):
                await self.answer(conversation)
        await super().tick()


# -- the run -------------------------------------------------------------------------------


class Cluster:
    def __init__(self, root: Path) -> None:
        self.postgres = PrivatePostgres(root / "pg")
        self.redis = PrivateRedis(root)
        self.servers: list[LiveServer] = []
        self.totals = Totals()
        self.visitors: list[Visitor] = []
        self.desks: list[Desk] = []
        self.expected_down: set[int] = set()  # servers we stopped on purpose
        self.last_counts: dict[str, int] = {}

    def server_env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "VEIVALG_NEW_CHATS_PER_MINUTE": "100000",  # opening 100 chats at once is no flood
            "VEIVALG_MAX_ACTIVE_CHATS": str(CHATS_PER_COUNSELLOR),
            # A desk answers five chats on one socket: about 7 messages a second.
            "VEIVALG_MESSAGES_PER_10S": "1000",
        }

    def participants(self) -> Iterable[Participant]:
        yield from self.visitors
        yield from self.desks

    def check_servers(self) -> None:
        for index, server in enumerate(self.servers):
            if index not in self.expected_down and server.process.poll() is not None:
                raise AssertionError(f"server {server.port} died:\n{server.log()[-4000:]}")

    async def wait_for(self, what: str, condition: Callable[[], list[str]], limit: float) -> None:
        """Poll until ``condition`` returns no complaints; fail with them after ``limit`` s."""
        deadline = time.monotonic() + limit
        while True:
            self.check_servers()
            complaints = condition()
            if not complaints:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: {len(complaints)} problems after {limit:.0f} s, e.g. "
                    + "; ".join(complaints[:8])
                    + f"\n{self.totals.summary()}"
                )
            await asyncio.sleep(0.5)

    async def wait_for_progress(self, label: str) -> None:
        """Every talking chat answers a message sent from now on: live traffic works."""
        since = time.monotonic()
        started = since

        def stuck() -> list[str]:
            return [
                f"{v.name} ({v.conversation[:8]}, ready={v.ready}, outbox={len(v.outbox)})"
                for v in self.visitors
                if v.talking and not v.progressed_since(since)
            ]

        await self.wait_for(f"chats talking live after {label}", stuck, PROGRESS_TIMEOUT)
        counts = self.totals.counts()
        delta = {k: v - self.last_counts.get(k, 0) for k, v in counts.items()}
        self.last_counts = counts
        delays = sorted(self.totals.ack_delays) or [0.0]
        self.totals.ack_delays = []
        delta["ack_p50_ms"] = round(1000 * delays[len(delays) // 2])
        delta["ack_p99_ms"] = round(1000 * delays[int(len(delays) * 0.99)])
        delta["ack_max_ms"] = round(1000 * delays[-1])
        log(f"{label}: every chat talks live again in {time.monotonic() - started:.1f} s; {delta}")

    def db_waiting(self) -> list[str]:
        rows = self.postgres.query(
            "SELECT public_id::text FROM chat_conversation WHERE status = 'waiting' "
            "AND queued_at IS NOT NULL ORDER BY priority DESC, requeued DESC, queued_at, id"
        )
        return [str(row[0]) for row in rows]

    def queue_mismatches(self) -> list[str]:
        waiting = self.db_waiting()
        complaints = []
        for desk in self.desks:
            seen = [item["conversation"] for item in (desk.snapshot or {}).get("waiting", [])]
            if seen != waiting:
                complaints.append(f"{desk.name} sees {len(seen)} waiting, the database {waiting}")
        return complaints


async def restart_server(cluster: Cluster, index: int, *, kill: bool) -> None:
    server = cluster.servers[index]
    cluster.expected_down.add(index)
    if kill:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        await asyncio.sleep(1.0)  # traffic moves to the other process meanwhile
    await asyncio.to_thread(server.restart)  # SIGTERM (when still running), then start
    cluster.expected_down.discard(index)


async def fault_kill_server(cluster: Cluster) -> None:
    await restart_server(cluster, 0, kill=True)


async def fault_redis_restart(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.redis.shutdown_nosave)
    await asyncio.to_thread(cluster.redis.start)  # at once, as a supervisor would


async def fault_redis_stall(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.redis.stall, 5)


async def fault_redis_clients(cluster: Cluster) -> None:
    killed = await asyncio.to_thread(cluster.redis.kill_clients)
    log(f"killed {killed} Redis client connections")


async def fault_postgres_outage(cluster: Cluster) -> None:
    await asyncio.to_thread(cluster.postgres.stop, "fast")
    await asyncio.sleep(10)
    await asyncio.to_thread(cluster.postgres.start)


async def fault_rolling_deploy(cluster: Cluster) -> None:
    for index in range(len(cluster.servers)):
        await restart_server(cluster, index, kill=False)


FAULTS: list[tuple[str, Callable[[Cluster], Any]]] = [
    ("SIGKILL of a server + restart", fault_kill_server),
    ("Redis SHUTDOWN NOSAVE + start", fault_redis_restart),
    ("Redis DEBUG SLEEP 5", fault_redis_stall),
    ("Redis CLIENT KILL TYPE normal", fault_redis_clients),
    ("PostgreSQL down for 10 s", fault_postgres_outage),
    ("rolling restart of both servers", fault_rolling_deploy),
]


def make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="veivalg-faults-"))
    (root / "pg").mkdir()
    if os.geteuid() == 0:
        root.chmod(0o711)  # the postgres user passes through to its own directory
        shutil.chown(root / "pg", "postgres", "postgres")
    return root


@contextlib.asynccontextmanager
async def running_cluster() -> AsyncIterator[Cluster]:
    missing = [
        name
        for name, present in (
            ("redis-server", shutil.which("redis-server") is not None),
            (str(PG_BIN / "initdb"), (PG_BIN / "initdb").exists()),
            ("runuser", os.geteuid() != 0 or shutil.which("runuser") is not None),
        )
        if not present
    ]
    if missing:
        pytest.skip(f"fault injection needs a private Redis and PostgreSQL: missing {missing}")
    root = make_root()
    cluster = Cluster(root)
    passed = False
    try:
        await asyncio.to_thread(cluster.redis.start)
        await asyncio.to_thread(cluster.postgres.init)
        usernames = [f"veileder{n:02d}" for n in range(1, COUNSELLORS + 1)]
        sessions = await asyncio.to_thread(setup_database, cluster.postgres.url, usernames)
        log(f"private PostgreSQL :{cluster.postgres.port} and Redis :{cluster.redis.port} ready")
        env = cluster.server_env()
        ports = [free_port(), free_port()]
        for port in ports:
            (ROOT / "var" / "test-logs" / f"server-{port}.log").unlink(missing_ok=True)
        started = await asyncio.gather(
            *(asyncio.to_thread(start_server, p, env) for p in ports), return_exceptions=True
        )
        cluster.servers = [s for s in started if isinstance(s, LiveServer)]  # stopped at the end
        for failure in started:
            if isinstance(failure, BaseException):
                raise failure
        log(f"servers on :{ports[0]} and :{ports[1]}")
        cluster.desks = [
            Desk(n, name, sessions[name], cluster.servers, cluster.totals)
            for n, name in enumerate(usernames)
        ]
        yield cluster
        passed = True
    finally:
        await asyncio.gather(
            *(participant.stop() for participant in cluster.participants()),
            return_exceptions=True,
        )
        await asyncio.gather(
            *(asyncio.to_thread(server.stop) for server in cluster.servers),
            return_exceptions=True,
        )
        with contextlib.suppress(Exception):
            cluster.postgres.destroy()
        with contextlib.suppress(Exception):
            cluster.redis.destroy()
        shutil.rmtree(root, ignore_errors=True)
        if passed:  # tens of MB of expected errors; a failure keeps them for a look
            for server in cluster.servers:
                server.log_path.unlink(missing_ok=True)


async def open_visitors(cluster: Cluster, first: int, count: int, *, talk: bool) -> list[Visitor]:
    visitors = [
        Visitor(first + n, cluster.servers, cluster.totals, talk=talk) for n in range(count)
    ]
    limit = asyncio.Semaphore(10)

    async def open_one(visitor: Visitor) -> None:
        async with limit:
            await visitor.open_chat()

    await asyncio.gather(*(open_one(v) for v in visitors))
    for visitor in visitors:
        visitor.start()
    cluster.visitors.extend(visitors)
    return visitors


async def final_resume(cluster: Cluster, active: dict[str, str]) -> None:
    """Every client asks for everything after what it holds, once more, on its live socket."""
    waits: list[tuple[Participant, str]] = [(v, v.conversation) for v in cluster.visitors]
    for desk in cluster.desks:
        waits += [(desk, key) for key, owner in active.items() if owner == desk.username]
    for participant, key in waits:
        await participant.resume(key)

    def pending() -> list[str]:
        return [f"{p.name} {key[:8]}" for p, key in waits if not p.resumed[key].is_set()]

    await cluster.wait_for("final resume", pending, 20)


def verify(cluster: Cluster, closed_by_visitor: set[str]) -> None:
    pg = cluster.postgres
    conversations = {
        str(key): (str(status), username, int(last_seq))
        for key, status, username, last_seq in pg.query(
            "SELECT c.public_id::text, c.status, u.username, c.last_seq FROM chat_conversation c "
            "LEFT JOIN auth_user u ON u.id = c.counsellor_id"
        )
    }
    stored: dict[str, dict[int, tuple[str, str, str]]] = defaultdict(dict)
    by_client_id: Counter[tuple[str, str, str]] = Counter()
    for key, seq, sender, body, client_id in pg.query(
        "SELECT c.public_id::text, m.seq, m.sender, m.body, m.client_id FROM chat_message m "
        "JOIN chat_conversation c ON c.id = m.conversation_id"
    ):
        stored[str(key)][int(seq)] = (str(sender), str(body), str(client_id))
        if client_id:
            by_client_id[(str(key), str(sender), str(client_id))] += 1
    live_desks = {
        str(username)
        for (username,) in pg.query(
            "SELECT DISTINCT u.username FROM routing_presence p JOIN auth_user u "
            "ON u.id = p.user_id WHERE p.heartbeat_at > now() - interval '60 seconds'"
        )
    }
    seq_by_client_id = {
        (key, entry[0], entry[2]): seq
        for key, messages in stored.items()
        for seq, entry in messages.items()
        if entry[2]
    }

    # 1. Every acknowledged message exists exactly once, as acknowledged; nothing is doubled.
    doubled = [ident for ident, count in by_client_id.items() if count != 1]
    assert not doubled, f"client_ids stored more than once: {doubled[:5]}"
    acked = unacked_stored = unacked_failed = 0
    for participant in cluster.participants():
        sender = "visitor" if isinstance(participant, Visitor) else "counsellor"
        for out in participant.sent.values():
            ident = (out.conversation, sender, out.client_id)
            if out.acked_seq is not None:
                acked += 1
                assert by_client_id[ident] == 1, f"acknowledged {ident} is not stored once"
                assert seq_by_client_id[ident] == out.acked_seq, f"{ident} stored at another seq"
                assert stored[out.conversation][out.acked_seq][1] == out.body, ident
            else:
                # 3. Never acknowledged: stored at most once, and if not, reported failed.
                assert by_client_id[ident] <= 1, ident
                if by_client_id[ident] == 1:
                    unacked_stored += 1
                else:
                    unacked_failed += 1
                    assert out.errors, f"{ident} was neither stored nor reported failed"

    # 2. Every participant holds 1..n of its conversations, as stored.
    for participant in cluster.participants():
        if isinstance(participant, Visitor):
            complete = {participant.conversation}
        else:
            assert isinstance(participant, Desk)
            complete = {
                key
                for key, (status, owner, _n) in conversations.items()
                if status == "active" and owner == participant.username
            }
        for key, held in participant.held.items():
            n = conversations[key][2]
            if key in complete:
                assert sorted(held) == list(range(1, n + 1)), (
                    f"{participant.name} holds {len(held)} of {n} messages of {key}: "
                    f"missing {sorted(set(range(1, n + 1)) - set(held))[:10]}"
                )
            for seq, entry in held.items():
                assert stored[key].get(seq) == entry, (
                    f"{participant.name} holds seq {seq} of {key} as {entry}, "
                    f"the database {stored[key].get(seq)}"
                )
    for key, (_status, _owner, n) in conversations.items():
        assert sorted(stored[key]) == list(range(1, n + 1)), f"stored seqs of {key} have gaps"
    assert not cluster.totals.anomalies, "\n".join(cluster.totals.anomalies[:20])

    # 4. No chat is stuck: every open chat is active with a connected, live desk that shows it.
    ours = {v.conversation for v in cluster.visitors}
    for key in ours:
        status, owner, _n = conversations[key]
        if key in closed_by_visitor:
            assert status == "closed", f"{key} closed by its visitor is {status}"
            continue
        assert status == "active", f"chat {key} is {status}, not active"
        desk = next(d for d in cluster.desks if d.username == owner)
        assert desk.ready, f"{key} is with {owner}, whose desk is not connected"
        assert owner in live_desks, f"{key} is with {owner}, who is not present in the database"
    for desk in cluster.desks:
        active = {
            k
            for k, (s, owner, _n) in conversations.items()
            if s == "active" and owner == desk.username
        }
        shown = {k for k in desk.tracked if conversations[k][0] == "active"}
        assert shown == active, f"{desk.name} shows {sorted(shown)}, has {sorted(active)}"
    unexpected = [
        k
        for k, (s, _o, _n) in conversations.items()
        if s not in OPEN_STATES and k not in closed_by_visitor
    ]
    assert not unexpected, f"closed or abandoned without anyone asking: {unexpected}"

    # 5. The queue every desk sees is the database's (empty now that everyone is served).
    assert not cluster.queue_mismatches(), cluster.queue_mismatches()
    for desk in cluster.desks:
        assert desk.snapshot is not None
        statuses = {c["username"]: c["status"] for c in desk.snapshot["counsellors"]}
        assert set(statuses.values()) == {"connected"}, f"{desk.name} sees {statuses}"
    log(
        f"verified: {acked} acknowledged messages stored once; {unacked_stored} unacknowledged "
        f"but stored, {unacked_failed} unacknowledged and reported failed; "
        f"{len(conversations)} conversations, {sum(len(m) for m in stored.values())} messages"
    )


async def test_chats_survive_faults() -> None:
    async with asyncio.timeout(400), running_cluster() as cluster:
        for desk in cluster.desks:
            desk.start()
        await cluster.wait_for(
            "desks on shift", lambda: [d.name for d in cluster.desks if not d.on_shift], 30
        )
        await open_visitors(cluster, 0, VISITORS, talk=True)
        log(f"{VISITORS} visitors and {COUNSELLORS} desks connected")

        def unassigned() -> list[str]:
            rows = cluster.postgres.query(
                "SELECT public_id::text FROM chat_conversation WHERE status <> 'active'"
            )
            return [str(row[0]) for row in rows]

        await cluster.wait_for("every chat assigned", unassigned, 60)
        await cluster.wait_for_progress("start")

        for label, fault in FAULTS:
            log(f"fault: {label}")
            await fault(cluster)
            log(f"fault over: {label}")
            await cluster.wait_for_progress(label)

        # Quiesce: the visitors stop, every outbox drains, every last message is answered.
        for visitor in cluster.visitors:
            visitor.talking = False

        def unsettled() -> list[str]:
            return [
                f"{p.name}: {len(p.outbox)} unacknowledged"
                for p in cluster.participants()
                if p.outbox
            ] + [
                f"{v.name}: last message unanswered"
                for v in cluster.visitors
                if v.sent and max(o.acked_seq or 0 for o in v.sent.values()) > v.answered
            ]

        await cluster.wait_for("traffic settled", unsettled, 30)
        log(f"settled; {cluster.totals.summary()}")

        # The queue after the faults: three more visitors wait (everyone is full), then three
        # chats end and the waiting ones are served.
        extras = await open_visitors(cluster, VISITORS, EXTRA_VISITORS, talk=False)
        await cluster.wait_for(
            "extra visitors connected", lambda: [v.name for v in extras if not v.ready], 20
        )
        for visitor in extras:
            await visitor.say_something()

        def queue_shows_extras() -> list[str]:
            waiting = cluster.db_waiting()
            if sorted(waiting) != sorted(v.conversation for v in extras):
                return [f"the database has {len(waiting)} waiting"]
            return cluster.queue_mismatches()

        await cluster.wait_for("desks see the three waiting", queue_shows_extras, 20)
        log("every desk sees the three waiting chats, in the database's order")
        leaving = cluster.visitors[:EXTRA_VISITORS]
        for visitor in leaving:
            await visitor.send({"type": "conversation.close"})

        def extras_served() -> list[str]:
            return [
                f"{v.name} unanswered" for v in extras if not v.progressed_since(0.0)
            ] + cluster.queue_mismatches()

        await cluster.wait_for("the waiting chats served", extras_served, 30)
        log("the waiting chats were served; the queue is empty everywhere")

        active = {
            str(key): str(owner)
            for key, owner in cluster.postgres.query(
                "SELECT c.public_id::text, u.username FROM chat_conversation c "
                "JOIN auth_user u ON u.id = c.counsellor_id WHERE c.status = 'active'"
            )
        }
        await final_resume(cluster, active)
        verify(cluster, {v.conversation for v in leaving})
        usage = resource.getrusage(resource.RUSAGE_SELF)
        log(f"done; {cluster.totals.summary()}")
        log(f"the clients used {usage.ru_utime + usage.ru_stime:.0f} s of CPU")
        for server in cluster.servers:
            text = server.log()
            log(
                f"server :{server.port}: {text.count('Exception in ASGI application')} sockets "
                f"ended by an exception, {text.count('frame failed')} frames failed"
            )
