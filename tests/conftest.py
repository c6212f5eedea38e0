from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client

from routing.services import shift_start
from tests.support import LiveServer, start_server

ORIGIN = "http://127.0.0.1:8000"


def make_staff(username: str, *roles: str, first_name: str = "") -> User:
    user = get_user_model().objects.create_user(
        username=username, password="test-pass-123", first_name=first_name or username.title()
    )
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def counsellor(transactional_db: None) -> User:
    return make_staff("kari", "counsellor", first_name="Kari")


@pytest.fixture
def other_counsellor(transactional_db: None) -> User:
    return make_staff("ola", "counsellor", first_name="Ola")


@pytest.fixture
def on_shift(counsellor: User) -> User:
    shift_start(counsellor=counsellor)
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
