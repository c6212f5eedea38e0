"""Every routing rule of docs/routing.md, on PostgreSQL and SQLite (whichever the run uses).

Time is moved with time-machine, so grace periods and opening hours are exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User

from chat import errors
from chat.models import Conversation, Message
from chat.services import conversation_close, conversation_open, message_send
from routing import selectors
from routing.dispatch import queue_dispatch
from routing.models import Closure, CounsellorProfile, Organisation, ServiceOverride, Shift
from routing.services import (
    conversation_claim,
    conversation_transfer,
    presence_connect,
    presence_disconnect,
    presence_heartbeat,
    queue_sweep,
    service_override_set,
    shift_end,
    shift_start,
)
from tests.conftest import connect_desk, make_staff, set_hours

pytestmark = pytest.mark.django_db(transaction=True)
OSLO = ZoneInfo("Europe/Oslo")
MONDAY = dt.date(2026, 11, 23)


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=OSLO)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(at(MONDAY, 12), tick=False) as traveller:
        yield traveller


def counsellor_in(username: str, county: str = "") -> User:
    user = make_staff(username, "counsellor")
    organisation, _ = Organisation.objects.get_or_create(
        name=f"Senter {county or 'sentralt'}",
        defaults={
            "kind": Organisation.Kind.COUNTY_CENTRE if county else Organisation.Kind.CENTRAL_UNIT,
            "county_code": county,
        },
    )
    CounsellorProfile.objects.create(user=user, organisation=organisation)
    return user


def on_desk(user: User) -> User:
    shift_start(counsellor=user)
    connect_desk(user)
    return user


def waiting(county: str = "", body: str = "Hei") -> Conversation:
    conversation, _token = conversation_open(language="nb", county=county)
    message_send(conversation_id=conversation.pk, party="visitor", body=body, client_id="first")
    conversation.refresh_from_db()
    return conversation


def status_of(conversation: Conversation) -> tuple[str, int | None]:
    conversation.refresh_from_db()
    return conversation.status, conversation.counsellor_id


# -- fairness ------------------------------------------------------------------------------


def test_longest_waiting_first_within_a_priority(
    clock: time_machine.Traveller, staffed: User
) -> None:
    chats = []
    for n in range(3):
        chats.append(waiting(body=f"nr {n}"))
        clock.shift(dt.timedelta(seconds=10))
    crisis = waiting(body="krise")
    Conversation.objects.filter(pk=crisis.pk).update(priority=10)
    connect_desk(staffed)  # the desk opens: dispatch runs
    order = list(
        Conversation.objects.filter(counsellor=staffed).order_by("messages__seq", "assigned_at")
    )
    assert {c.pk for c in order} == {crisis.pk, chats[0].pk, chats[1].pk}
    assert status_of(chats[2]) == ("waiting", None)
    # Assignment order is visible in the system messages' order across chats.
    assigned = list(
        Message.objects.filter(body="assigned")
        .order_by("id")
        .values_list("conversation", flat=True)
    )
    assert assigned == [crisis.pk, chats[0].pk, chats[1].pk]


def test_fewest_active_chats_then_longest_idle(clock: time_machine.Traveller) -> None:
    anne, bjorn = on_desk(counsellor_in("anne")), on_desk(counsellor_in("bjorn"))
    first = waiting()
    assert status_of(first)[1] in {anne.pk, bjorn.pk}
    first_taker = status_of(first)[1]
    clock.shift(dt.timedelta(seconds=5))
    second = waiting()
    assert status_of(second)[1] != first_taker  # the other one had fewer active chats
    conversation_close(conversation_id=first.pk, party="visitor")
    clock.shift(dt.timedelta(seconds=5))
    # Now the first taker has 0 active and has been idle longer than the other (who has 1).
    third = waiting()
    assert status_of(third)[1] == first_taker
    conversation_close(conversation_id=second.pk, party="visitor")
    conversation_close(conversation_id=third.pk, party="visitor")
    clock.shift(dt.timedelta(seconds=5))
    # Both at 0: the one whose last chat came longest ago gets it.
    fourth = waiting()
    assert status_of(fourth)[1] != first_taker


def test_a_sweep_stamps_each_assignment_with_its_own_moment() -> None:
    """assigned_at is when a chat was given out: the order of the stamps is the order of
    the queue (it feeds wait-time statistics, and a run of the sweeper can take a while)."""
    with time_machine.travel(at(MONDAY, 12), tick=True):
        on_desk(counsellor_in("kari"))
        chats = [conversation_open(language="nb")[0] for _ in range(3)]
        for n, chat in enumerate(chats):  # queued without ringing the dispatcher
            Conversation.objects.filter(pk=chat.pk).update(
                status=Conversation.Status.WAITING,
                queued_at=at(MONDAY, 11, 50, n),
            )
        queue_sweep()
    stamps = [Conversation.objects.get(pk=chat.pk).assigned_at for chat in chats]
    assert all(stamp is not None for stamp in stamps)
    assert stamps == sorted(stamp for stamp in stamps if stamp is not None)
    assert len(set(stamps)) == 3


def test_capacity_limit_and_freed_capacity(on_shift: User) -> None:
    chats = [waiting() for _ in range(4)]
    assert [status_of(c)[0] for c in chats] == ["active", "active", "active", "waiting"]
    assert queue_dispatch() == []
    conversation_close(conversation_id=chats[0].pk, party="counsellor", actor_id=on_shift.pk)
    assert status_of(chats[3]) == ("active", on_shift.pk)


def test_county_preference_then_overflow(clock: time_machine.Traveller) -> None:
    trondelag = on_desk(counsellor_in("trond", county="50"))
    vestland = on_desk(counsellor_in("vera", county="46"))
    for _ in range(3):  # Trøndelag's counsellor is full
        conversation, _ = conversation_open(language="nb", county="50")
        message_send(conversation_id=conversation.pk, party="visitor", body="x", client_id="a")
    assert selectors.active_chat_count(user_id=trondelag.pk) == 3
    assert selectors.active_chat_count(user_id=vestland.pk) == 0

    resident = waiting(county="50")
    assert status_of(resident) == ("waiting", None)  # offered to Trøndelag first
    other = waiting(county="03")  # nobody from Oslo is on shift: everyone, at once
    assert status_of(other) == ("active", vestland.pk)

    clock.shift(dt.timedelta(seconds=59))
    for user in (trondelag, vestland):
        presence_heartbeat(channel_name=f"test-desk-{user.pk}")
    queue_sweep()
    assert status_of(resident) == ("waiting", None)
    clock.shift(dt.timedelta(seconds=2))
    queue_sweep()
    assert status_of(resident) == ("active", vestland.pk)  # the window has passed


# -- grace periods -------------------------------------------------------------------------


def test_disconnected_counsellor_keeps_chats_for_the_grace_period_then_front_of_queue(
    clock: time_machine.Traveller, counsellor: User
) -> None:
    on_desk(counsellor)
    chat = waiting(body="Jeg trenger hjelp med CV")
    assert status_of(chat) == ("active", counsellor.pk)
    shift_end_attempt = pytest.raises(errors.ShiftHasActiveChats)
    with shift_end_attempt:
        shift_end(counsellor=counsellor)
    presence_disconnect(channel_name=f"test-desk-{counsellor.pk}")
    early_waiter = waiting(body="venter")  # nobody connected: it waits

    clock.shift(dt.timedelta(seconds=89))
    queue_sweep()
    assert status_of(chat) == ("active", counsellor.pk)
    clock.shift(dt.timedelta(seconds=2))
    result = queue_sweep()
    assert result.requeued == [chat.pk]
    assert status_of(chat) == ("waiting", None)
    assert [entry.pk for entry in selectors.queue_waiting()] == [chat.pk, early_waiter.pk]
    bodies = list(chat.messages.order_by("seq").values_list("body", flat=True))
    assert bodies == ["Jeg trenger hjelp med CV", "assigned", "counsellor_lost"]

    # Back on the desk: the returning counsellor gets it again, history intact.
    connect_desk(counsellor)
    assert status_of(chat) == ("active", counsellor.pk)


def test_a_chat_whose_counsellor_is_connected_but_off_shift_goes_back_to_the_queue(
    clock: time_machine.Traveller, counsellor: User
) -> None:
    """The sweep's one-query check ("every chat in progress has a connected counsellor on
    shift") must not take a connected counsellor whose shift has ended for one who serves."""
    on_desk(counsellor)
    chat = waiting()
    assert status_of(chat) == ("active", counsellor.pk)
    assert queue_sweep().requeued == []
    Shift.objects.filter(counsellor=counsellor).update(ended_at=dt.datetime.now(dt.UTC))
    clock.shift(dt.timedelta(seconds=91))
    presence_heartbeat(channel_name=f"test-desk-{counsellor.pk}")  # still connected
    assert queue_sweep().requeued == [chat.pk]
    assert status_of(chat) == ("waiting", None)


def test_reconnecting_within_grace_keeps_the_chats(
    clock: time_machine.Traveller, counsellor: User
) -> None:
    on_desk(counsellor)
    chat = waiting()
    presence_disconnect(channel_name=f"test-desk-{counsellor.pk}")
    clock.shift(dt.timedelta(seconds=60))
    connect_desk(counsellor)
    clock.shift(dt.timedelta(seconds=60))
    presence_heartbeat(channel_name=f"test-desk-{counsellor.pk}")
    assert queue_sweep().requeued == []
    assert status_of(chat) == ("active", counsellor.pk)


def test_a_killed_process_is_noticed_by_its_stopped_heartbeat(
    clock: time_machine.Traveller, counsellor: User
) -> None:
    on_desk(counsellor)
    chat = waiting()
    # No disconnect at all (SIGKILL): the heartbeat simply stops, and the grace period runs
    # from the last heartbeat.
    clock.shift(dt.timedelta(seconds=89))
    queue_sweep()
    assert status_of(chat) == ("active", counsellor.pk)
    clock.shift(dt.timedelta(seconds=2))
    assert queue_sweep().requeued == [chat.pk]


def test_visitor_who_leaves_before_pickup_is_abandoned_with_the_wait(
    clock: time_machine.Traveller, staffed: User
) -> None:  # clock first: the shift starts at the travelled time
    chat = waiting()
    presence_connect(channel_name="visitor-socket", conversation_id=chat.pk)
    presence_disconnect(channel_name="visitor-socket")
    clock.shift(dt.timedelta(seconds=119))
    Shift.objects.update(started_at=at(MONDAY, 12, 1, 59))  # keep the counsellor in grace
    assert queue_sweep().abandoned == []
    clock.shift(dt.timedelta(seconds=2))
    assert queue_sweep().abandoned == [chat.pk]
    chat.refresh_from_db()
    assert (chat.status, chat.closed_by) == ("abandoned", "system")
    assert chat.closed_at is not None
    assert chat.queued_at is not None
    assert (chat.closed_at - chat.queued_at).total_seconds() == 121
    assert selectors.queue_waiting() == []


# -- transfer ------------------------------------------------------------------------------


def test_transfer_to_a_colleague_or_back_to_the_queue(
    counsellor: User, other_counsellor: User
) -> None:
    on_desk(counsellor)
    chat = waiting()
    assert status_of(chat) == ("active", counsellor.pk)
    with pytest.raises(errors.TransferTargetUnavailable):  # not on shift
        conversation_transfer(
            counsellor=counsellor, public_id=str(chat.public_id), to_username="ola"
        )
    on_desk(other_counsellor)
    with pytest.raises(errors.NotYourConversation):
        conversation_transfer(
            counsellor=other_counsellor, public_id=str(chat.public_id), to_username="kari"
        )
    conversation_transfer(
        counsellor=counsellor,
        public_id=str(chat.public_id),
        to_username="ola",
        note="Vil bli elektriker, 17 år",
    )
    assert status_of(chat) == ("active", other_counsellor.pk)
    transfer = chat.transfers.get()
    assert (transfer.from_counsellor_id, transfer.note) == (
        counsellor.pk,
        "Vil bli elektriker, 17 år",
    )
    assert chat.messages.order_by("-seq").first().body == "transferred"  # type: ignore[union-attr]
    shift_end(counsellor=counsellor)  # no active chats left: allowed

    # Back to the queue: to the front, and not straight back to the one who passed it on.
    presence_disconnect(channel_name=f"test-desk-{counsellor.pk}")
    newcomer = waiting()
    assert status_of(newcomer) == ("active", other_counsellor.pk)
    conversation_close(conversation_id=newcomer.pk, party="visitor")
    later = waiting()
    Conversation.objects.filter(pk=later.pk).update(status="waiting", counsellor=None)
    conversation_transfer(
        counsellor=other_counsellor, public_id=str(chat.public_id), to_username=None
    )
    assert status_of(chat) == ("waiting", None)
    assert next(entry.pk for entry in selectors.queue_waiting()) == chat.pk
    assert status_of(later)[1] == other_counsellor.pk  # the next one in line went to Ola
    ingrid = on_desk(counsellor_in("ingrid"))
    assert status_of(chat) == ("active", ingrid.pk)
    assert chat.transfers.count() == 2


# -- opening hours -------------------------------------------------------------------------


@pytest.fixture
def office_hours() -> None:
    set_hours(*[(day, dt.time(10), dt.time(20)) for day in range(4)], (4, dt.time(10), dt.time(15)))


@pytest.mark.parametrize(
    ("now", "is_open", "reason", "next_opening", "closes_at"),
    [
        (at(MONDAY, 9, 59, 59), False, "outside_hours", at(MONDAY, 10), None),
        (at(MONDAY, 10), True, "open", None, at(MONDAY, 20)),
        (at(MONDAY, 19, 59, 59), True, "open", None, at(MONDAY, 20)),
        (at(MONDAY, 20), False, "outside_hours", at(MONDAY + dt.timedelta(days=1), 10), None),
        (
            at(MONDAY + dt.timedelta(days=4), 15),
            False,
            "outside_hours",
            at(MONDAY + dt.timedelta(days=7), 10),
            None,
        ),
        (
            at(MONDAY + dt.timedelta(days=5), 12),
            False,
            "outside_hours",
            at(MONDAY + dt.timedelta(days=7), 10),
            None,
        ),
    ],
)
def test_opening_hours(
    office_hours: None,
    counsellor: User,
    now: dt.datetime,
    is_open: bool,
    reason: str,
    next_opening: dt.datetime | None,
    closes_at: dt.datetime | None,
) -> None:
    with time_machine.travel(now, tick=False):
        shift_start(counsellor=counsellor)
        connect_desk(counsellor)
        state = selectors.service_state()
    assert (state.open, state.reason, state.next_opening, state.closes_at) == (
        is_open,
        reason,
        next_opening,
        closes_at,
    )


def test_holiday_and_nobody_on_shift(office_hours: None, counsellor: User) -> None:
    Closure.objects.create(date=MONDAY, reason="Juleaften")
    with time_machine.travel(at(MONDAY, 12), tick=False):
        state = selectors.service_state()
        assert (state.open, state.reason) == (False, "holiday")
        assert state.next_opening == at(MONDAY + dt.timedelta(days=1), 10)
    with time_machine.travel(at(MONDAY + dt.timedelta(days=1), 12), tick=False):
        state = selectors.service_state()
        assert (state.open, state.reason) == (False, "nobody_on_shift")
        with pytest.raises(errors.ServiceClosed):
            conversation_open(language="nb")


def test_chat_waiting_at_closing_time_is_still_served_then_closed_when_nobody_is_left(
    office_hours: None, counsellor: User, other_counsellor: User
) -> None:
    with time_machine.travel(at(MONDAY, 19, 50), tick=False) as clock:
        shift_start(counsellor=counsellor)  # on shift, desk not open yet
        late = waiting(body="rett før stengetid")
        crisis = waiting(body="jeg har det veldig vondt")
        Conversation.objects.filter(pk=crisis.pk).update(priority=10)
        clock.move_to(at(MONDAY, 20, 5))
        assert selectors.service_state().open is False
        with pytest.raises(errors.ServiceClosed):
            conversation_open(language="nb")
        connect_desk(counsellor)  # after closing, the one on shift still serves the queue
        assert status_of(crisis)[0] == "active"
        assert status_of(late)[0] == "active"
        conversation_close(conversation_id=late.pk, party="counsellor", actor_id=counsellor.pk)
        conversation_close(conversation_id=crisis.pk, party="counsellor", actor_id=counsellor.pk)

        straggler = Conversation.objects.create(
            language="nb",
            visitor_token_hash="x" * 64,
            status="waiting",
            queued_at=at(MONDAY, 19, 59),
        )
        crisis_waiting = Conversation.objects.create(
            language="nb",
            visitor_token_hash="y" * 64,
            status="waiting",
            queued_at=at(MONDAY, 19, 59),
            priority=10,
        )
        presence_disconnect(channel_name=f"test-desk-{counsellor.pk}")
        shift_end(counsellor=counsellor)
        result = queue_sweep()
        assert result.unserved == [straggler.pk]
        assert status_of(straggler)[0] == "abandoned"
        assert straggler.messages.get().body == "closed_unserved"
        assert status_of(crisis_waiting)[0] == "waiting"  # crisis chats are never auto-closed


def test_supervisor_closes_early_and_opens_ad_hoc(office_hours: None, counsellor: User) -> None:
    supervisor = make_staff("siri", "supervisor", "counsellor")
    with time_machine.travel(at(MONDAY, 14), tick=False):
        on_desk(counsellor)
        assert selectors.service_state().open is True
        with pytest.raises(errors.Forbidden):
            service_override_set(
                actor=counsellor, kind="close", reason="Sykdom", until=at(MONDAY, 20)
            )
        with pytest.raises(errors.ReasonRequired):
            service_override_set(actor=supervisor, kind="close", reason=" ", until=at(MONDAY, 20))
        service_override_set(
            actor=supervisor, kind="close", reason="Få veiledere i dag", until=at(MONDAY, 20)
        )
        state = selectors.service_state()
        assert (state.open, state.reason, state.override_reason) == (
            False,
            "closed_early",
            "Få veiledere i dag",
        )
        assert state.next_opening == at(MONDAY + dt.timedelta(days=1), 10)
        with pytest.raises(errors.ServiceClosed):
            conversation_open(language="nb")
    with time_machine.travel(at(MONDAY + dt.timedelta(days=5), 11), tick=False):  # Saturday
        connect_desk(counsellor)
        assert selectors.service_state().reason == "outside_hours"
        service_override_set(
            actor=supervisor,
            kind=ServiceOverride.Kind.OPEN,
            reason="Lørdagsåpent før søknadsfristen",
            until=at(MONDAY + dt.timedelta(days=5), 15),
        )
        state = selectors.service_state()
        assert (state.open, state.closes_at) == (True, at(MONDAY + dt.timedelta(days=5), 15))
        conversation_open(language="nb")


def test_wait_estimate_and_admission_control(office_hours: None, counsellor: User) -> None:
    with time_machine.travel(at(MONDAY, 19, 30), tick=False):
        on_desk(counsellor)
        estimator = selectors.wait_estimator()
        assert (estimator.free, estimator.capacity, estimator.chat_seconds) == (3, 3, 900)
        assert estimator.seconds(1) == 0
        assert estimator.seconds(3) == 0
        assert estimator.seconds(4) == 300  # one place frees every 900 s / 3 chats
        assert estimator.seconds(9) == 1800  # 30 minutes: past the 20:00 closing
        for _ in range(8):
            waiting()
        from routing.events import position_event

        state = selectors.service_state()
        # Three chats are active, five wait; the estimator now has nothing free.
        at_limit = position_event("x", 6, 6, selectors.wait_estimator(), state)
        assert (at_limit["estimated_wait"], at_limit["past_closing"]) == (1800, False)
        event = position_event("x", 7, 7, selectors.wait_estimator(), state)
        assert event["estimated_wait"] == 2100
        assert event["past_closing"] is True
        assert position_event("x", 1, 6, selectors.wait_estimator(), state)["past_closing"] is False


def test_manual_pick_of_a_specific_chat_ignores_county_preference(
    clock: time_machine.Traveller,
) -> None:
    trond = on_desk(counsellor_in("trond", county="50"))
    for _ in range(3):
        waiting(county="50")
    vera = on_desk(counsellor_in("vera", county="46"))
    Conversation.objects.filter(counsellor=vera).update(status="closed")
    resident = waiting(county="50")
    assert status_of(resident) == ("waiting", None)
    conversation_claim(counsellor=vera, public_id=str(resident.public_id))
    assert status_of(resident) == ("active", vera.pk)
    assert selectors.active_chat_count(user_id=trond.pk) == 3
