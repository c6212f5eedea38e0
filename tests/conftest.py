from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import connection, connections
from django.test import Client

from chat import direct
from knowledge import facade as knowledge
from reports.reference import ensure_taxonomy
from routing.models import OpeningHours
from routing.reference import ensure_reference_data
from routing.services import presence_connect, shift_start
from tests.support import LiveServer, start_server

ORIGIN = "http://127.0.0.1:8000"

# The servers the tests start keep their connections (the production setting); this process
# must not, or a worker thread's idle connection keeps the test database from being dropped.
connections.settings["default"]["CONN_MAX_AGE"] = 0

# Several server processes need the shared deployment: PostgreSQL and Redis.
shared_deployment = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL"),
    reason="several processes need the shared PostgreSQL + Redis deployment",
)


def make_staff(username: str, *roles: str, first_name: str = "") -> User:
    user = get_user_model().objects.create_user(
        username=username, password="test-pass-123", first_name=first_name or username.title()
    )
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


def set_hours(*intervals: tuple[int, dt.time, dt.time]) -> None:
    OpeningHours.objects.all().delete()
    for weekday, opens, closes in intervals:
        OpeningHours.objects.create(weekday=weekday, opens=opens, closes=closes)


def always_open() -> None:
    set_hours(*[(day, dt.time(0), dt.time(0)) for day in range(7)])


@pytest.fixture(autouse=True, scope="session")
def _no_service_wide_flood_cap() -> None:
    """The suite opens far more chats a minute than any real day; the cap has its own test."""
    from django.conf import settings

    settings.VEIVALG = {**settings.VEIVALG, "NEW_CHATS_PER_MINUTE": 100_000}


@pytest.fixture(scope="session", autouse=True)
def _pooled_connections_closed(django_db_setup: None) -> Iterator[None]:
    """On PostgreSQL the sockets' database calls run on the event loop's thread pool, each
    thread with its own connection (chat/db.py); each test's loop ends its threads, and the
    connections they held close once collected. Collect before the test database is dropped,
    which refuses while any connection is open; the loops' own send connections
    (chat/direct.py) are closed outright."""
    yield
    direct.close_all()
    gc.collect()


@pytest.fixture(autouse=True)
def reference_data(request: pytest.FixtureRequest) -> None:
    """Every database test starts with the reference data and a chat open around the clock
    (tests about opening hours set their own)."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("transactional_db")
    knowledge.forget_loaded()  # the database starts empty: so does this process's index
    ensure_reference_data()
    ensure_taxonomy()
    always_open()


DEMO_CORPUS = Path(__file__).resolve().parent.parent / "knowledge" / "corpus" / "demo.jsonl"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Embed the demo corpus into the on-disk vector cache once, before any test's timeout
    starts (a fresh clone needs about a minute; later runs find every vector cached)."""
    from chat import conf
    from knowledge import corpus, embedders

    documents = [knowledge.from_corpus(d) for d in corpus.read_file(DEMO_CORPUS)]
    passages = [p for d in documents for p in d.passages()]
    knowledge.embed_passages(embedders.get(conf.knowledge_embedder()), passages)


@pytest.fixture
def knowledge_index(transactional_db: None) -> knowledge.LoadResult:
    """The demo corpus loaded (its vectors come from the on-disk cache after the first run)."""
    return knowledge.load_file(DEMO_CORPUS, replace=True, progress=False)


def connect_desk(user: User) -> None:
    """Record a live desk socket for ``user``, as the desk consumer does on connect."""
    presence_connect(channel_name=f"test-desk-{user.pk}", user_id=user.pk)


@pytest.fixture
def counsellor(transactional_db: None) -> User:
    return make_staff("kari", "counsellor", first_name="Kari")


@pytest.fixture
def other_counsellor(transactional_db: None) -> User:
    return make_staff("ola", "counsellor", first_name="Ola")


@pytest.fixture
def staffed(counsellor: User) -> User:
    """On shift but with no desk open: the chat is open, nothing is assigned automatically
    (for tests of manual claims and of the queue itself)."""
    shift_start(counsellor=counsellor)
    return counsellor


@pytest.fixture
def on_shift(counsellor: User) -> User:
    shift_start(counsellor=counsellor)
    connect_desk(counsellor)
    return counsellor


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def using_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def live_server_proc(transactional_db: None) -> Iterator[LiveServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


from tests.browser import browser  # noqa: E402, F401  (the shared Chromium fixture)
