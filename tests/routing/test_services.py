"""Claiming chats from the shared queue."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection

from chat import errors
from chat.models import Conversation
from chat.services import conversation_open, message_send
from routing.services import conversation_claim, conversation_claim_next, shift_end, shift_start
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_chat(body: str = "Hei") -> Conversation:
    conversation, _token = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party="visitor", body=body, client_id="first")
    conversation.refresh_from_db()
    return conversation


def test_claim_next_takes_the_longest_waiting(staffed: User, other_counsellor: User) -> None:
    chats = [waiting_chat(f"nr {n}") for n in range(3)]
    taken = [conversation_claim_next(counsellor=staffed).pk for _ in range(3)]
    assert taken == [c.pk for c in chats]
    shift_start(counsellor=other_counsellor)
    shift_start(counsellor=other_counsellor)  # idempotent: still one shift
    with pytest.raises(errors.QueueEmpty):
        conversation_claim_next(counsellor=other_counsellor)


def test_capacity_limit(staffed: User) -> None:
    for _ in range(4):
        waiting_chat()
    for _ in range(3):
        conversation_claim_next(counsellor=staffed)
    with pytest.raises(errors.AtCapacity):
        conversation_claim_next(counsellor=staffed)
    assert Conversation.objects.filter(status="waiting").count() == 1


def test_must_be_on_shift_and_cannot_leave_with_active_chats(staffed: User) -> None:
    chat = waiting_chat()
    conversation_claim(counsellor=staffed, public_id=str(chat.public_id))
    with pytest.raises(errors.ShiftHasActiveChats):
        shift_end(counsellor=staffed)
    off = make_staff("ingrid", "counsellor")
    waiting_chat()
    with pytest.raises(errors.NotOnShift):
        conversation_claim_next(counsellor=off)


def test_a_taken_chat_cannot_be_taken_again(staffed: User, other_counsellor: User) -> None:
    shift_start(counsellor=other_counsellor)
    chat = waiting_chat()
    conversation_claim(counsellor=staffed, public_id=str(chat.public_id))
    with pytest.raises(errors.AlreadyTaken):
        conversation_claim(counsellor=other_counsellor, public_id=str(chat.public_id))
    chat.refresh_from_db()
    assert chat.counsellor_id == staffed.pk


def test_concurrent_claims_assign_every_chat_exactly_once(staffed: User) -> None:
    counsellors = [make_staff(f"c{n}", "counsellor") for n in range(5)]
    for person in counsellors:
        shift_start(counsellor=person)
    chats = [waiting_chat() for _ in range(12)]
    claimed: list[tuple[int, int]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def claimer(person: User) -> None:
        try:
            while True:
                try:
                    chat = conversation_claim_next(counsellor=person)
                except (errors.QueueEmpty, errors.AtCapacity):
                    return
                with lock:
                    claimed.append((chat.pk, person.pk))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(p,)) for p in counsellors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(pk for pk, _ in claimed) == sorted(c.pk for c in chats)
    stored = dict(
        Conversation.objects.filter(pk__in=[c.pk for c in chats]).values_list("pk", "counsellor_id")
    )
    assert stored == dict(claimed)
    per_counsellor = [sum(1 for _, who in claimed if who == p.pk) for p in counsellors]
    assert max(per_counsellor) <= 3
