"""The dashboard's state and its socket: snapshot after joining, absolute values, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from hypothesis import given, settings
from hypothesis import strategies as st

from chat import errors
from chat.models import Conversation
from chat.services import conversation_open, message_send
from routing import consumers as routing_consumers
from routing.dashboard import BUCKET, _series, _waiting_at, coverage_gaps, dashboard_state
from routing.models import AuditEntry, ScheduledShift
from routing.services import (
    conversation_end_stuck,
    conversation_move,
    counsellors_message,
    transcript_open,
)
from tests.conftest import connect_desk, make_staff, session_cookie, set_hours
from tests.wsclient import open_socket, until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def supervisor(transactional_db: None) -> User:
    return make_staff("siri", "supervisor", "counsellor", first_name="Siri")


def waiting_chat(body: str = "Hei") -> Conversation:
    conversation, _token = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party="visitor", body=body, client_id="1")
    conversation.refresh_from_db()
    return conversation


@pytest.mark.asyncio
async def test_a_change_between_joining_and_the_snapshot_is_not_lost(
    staffed: User, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer joins the event stream, then reads the snapshot. A visitor who joins the
    queue while the snapshot is being read must still show up on screen."""
    calls = 0

    def racing_snapshot(now: dt.datetime | None = None) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        state = dashboard_state(now)
        if calls == 1:
            waiting_chat()  # committed and published after the snapshot was read
        return state

    monkeypatch.setattr(routing_consumers, "dashboard_state", racing_snapshot)
    cookie = await database_sync_to_async(session_cookie)(supervisor)
    socket = await open_socket("/ws/dashboard/", f"sessionid={cookie}")
    first, _ = await until(socket, "dashboard.state")
    assert first["state"]["now"]["waiting"] == 0  # the snapshot predates the visitor
    latest = first
    while latest["state"]["now"]["waiting"] != 1:
        latest, _ = await until(socket, "dashboard.state")
    assert latest["state"]["today"]["started"] == 1
    await socket.disconnect()


@pytest.mark.asyncio
async def test_dashboard_socket_is_for_supervisors_only(staffed: User) -> None:
    cookie = await database_sync_to_async(session_cookie)(staffed)
    socket = await open_socket("/ws/dashboard/", f"sessionid={cookie}")
    frame = await socket.receive_json_from(timeout=5)
    assert (frame["type"], frame["code"]) == ("error", "forbidden")
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


def test_state_counts_match_the_database(on_shift: User) -> None:
    chats = [waiting_chat() for _ in range(7)]  # three go to Kari, four wait
    Conversation.objects.filter(pk=chats[0].pk).update(visitor_county="50", crisis_flagged=True)
    state = dashboard_state()
    now = state["now"]
    assert (now["waiting"], now["in_progress"], now["capacity"]) == (4, 3, 3)
    assert now["counsellors"][0]["active"] == 3
    assert state["today"]["started"] == 7
    assert {a["code"] for a in state["alerts"]} >= {"crisis", "queue_over_capacity"}
    assert next(c["conversation"] for c in now["active_chats"]) == str(chats[0].public_id)
    assert "Hei" not in repr(state)  # never message text


def test_coverage_gaps_in_the_rota(counsellor: User) -> None:
    set_hours((0, dt.time(10), dt.time(20)))  # Mondays only
    monday = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)  # 09:00 in Oslo
    start = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)  # 10:00 in Oslo
    ScheduledShift.objects.create(
        counsellor=counsellor, starts_at=start, ends_at=start + dt.timedelta(hours=4)
    )
    ScheduledShift.objects.create(
        counsellor=counsellor,
        starts_at=start + dt.timedelta(hours=5),
        ends_at=start + dt.timedelta(hours=10),
    )
    gaps = coverage_gaps(monday)
    assert gaps == [
        {
            "from": (start + dt.timedelta(hours=4)).astimezone(gaps_tz()).isoformat(),
            "to": (start + dt.timedelta(hours=5)).astimezone(gaps_tz()).isoformat(),
        }
    ]


def gaps_tz() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Oslo")


def test_supervisor_actions_are_audited_and_checked(
    on_shift: User, other_counsellor: User, supervisor: User
) -> None:
    chat = waiting_chat()
    assert chat.counsellor_id == on_shift.pk
    with pytest.raises(errors.Forbidden):
        conversation_move(actor=on_shift, public_id=str(chat.public_id), to_username="ola")
    from routing.services import shift_start

    shift_start(counsellor=other_counsellor)
    connect_desk(other_counsellor)
    conversation_move(actor=supervisor, public_id=str(chat.public_id), to_username="ola")
    chat.refresh_from_db()
    assert chat.counsellor_id == other_counsellor.pk

    with pytest.raises(errors.ReasonRequired):
        conversation_end_stuck(actor=supervisor, public_id=str(chat.public_id), reason=" ")
    conversation_end_stuck(
        actor=supervisor, public_id=str(chat.public_id), reason="Besøkende svarer ikke"
    )
    chat.refresh_from_db()
    assert (chat.status, chat.closed_by) == ("closed", "system")

    counsellors_message(actor=supervisor, text="Husk pausen kl. 14")
    with pytest.raises(errors.ReasonRequired):
        transcript_open(actor=supervisor, public_id=str(chat.public_id), reason="")
    with pytest.raises(errors.Forbidden):
        transcript_open(actor=on_shift, public_id=str(chat.public_id), reason="nysgjerrig")
    transcript_open(actor=supervisor, public_id=str(chat.public_id), reason="Klage fra bruker")

    log = list(AuditEntry.objects.order_by("at", "id").values_list("action", "detail"))
    assert log == [
        ("conversation_move", "ola"),
        ("conversation_end", "Besøkende svarer ikke"),
        ("counsellors_message", ""),
        ("transcript_view", "Klage fra bruker"),
    ]
    assert all(entry.actor_id == supervisor.pk for entry in AuditEntry.objects.all())
    assert "Hei" not in repr(log)


@pytest.mark.asyncio
async def test_the_sweep_refreshes_an_open_dashboard_and_skips_it_when_none_is_open(
    staffed: User, supervisor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waits grow with nothing else happening, so every sweep refreshes the dashboards open in
    the process; with none open it does not compute one (about 40 ms of CPU per sweep)."""
    import asyncio

    from routing import events, sweeper

    worker = asyncio.create_task(events.queue_worker.run_forever())
    await asyncio.sleep(0)
    computed = 0
    real = events.broadcast_dashboard

    def counting() -> None:
        nonlocal computed
        computed += 1
        real()

    monkeypatch.setattr(events, "broadcast_dashboard", counting)
    try:
        assert events.queue_worker.watchers == 0
        await sweeper.sweep_once()
        await asyncio.sleep(0.3)
        assert computed == 0  # nobody watching: nothing computed

        cookie = await database_sync_to_async(session_cookie)(supervisor)
        socket = await open_socket("/ws/dashboard/", f"sessionid={cookie}")
        first, _ = await until(socket, "dashboard.state")
        assert events.queue_worker.watchers == 1
        await sweeper.sweep_once()
        refreshed, _ = await until(socket, "dashboard.state", wait=5)
        assert computed == 1
        moments = [
            dt.datetime.fromisoformat(f["state"]["generated_at"]) for f in (first, refreshed)
        ]
        assert moments[1] > moments[0]
        await socket.disconnect()
        assert events.queue_worker.watchers == 0
    finally:
        worker.cancel()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 24 * 60),  # joined the queue, minutes after midnight
            st.one_of(st.none(), st.integers(0, 6 * 60)),  # left it so many minutes later
        ),
        max_size=40,
    ),
    st.integers(0, 24 * 60),
)
def test_the_queue_series_is_what_was_waiting_at_each_point(
    chats: list[tuple[int, int | None]], minutes_now: int
) -> None:
    """The one-pass series (routing.dashboard._series) against the definition: at each point,
    the chats queued by then and not yet assigned or closed."""
    midnight = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    rows = []
    for joined, stayed in chats:
        queued_at = midnight + dt.timedelta(minutes=joined)
        left = None if stayed is None else queued_at + dt.timedelta(minutes=stayed)
        assigned = stayed is not None and stayed % 2 == 0  # half assigned, half closed waiting
        rows.append(
            {
                "queued_at": queued_at,
                "assigned_at": left if assigned else None,
                "closed_at": None if assigned else left,
            }
        )
    now = midnight + dt.timedelta(minutes=minutes_now)
    expected = []
    moment = midnight
    while moment <= now:
        waiting = _waiting_at(rows, moment)
        longest = max((int((moment - q).total_seconds()) for q in waiting), default=0)
        expected.append({"at": moment.isoformat(), "queue": len(waiting), "longest_wait": longest})
        moment += BUCKET
    assert _series(rows, midnight, now) == expected
