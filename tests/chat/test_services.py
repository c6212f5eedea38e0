"""Chat services against the real database (PostgreSQL or SQLite, whichever the run uses)."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from chat import errors, services
from chat.models import Conversation, Message
from chat.selectors import conversation_get_for_visitor, hash_token
from chat.services import (
    SendRequest,
    SendResult,
    conversation_close,
    conversation_open,
    conversation_rate,
    message_send,
    message_send_batch,
)
from routing.services import conversation_claim_next, shift_end

pytestmark = pytest.mark.django_db(transaction=True)
Party = Conversation.Party


def test_the_chat_is_closed_when_nobody_is_on_shift(counsellor: User) -> None:
    with pytest.raises(errors.ServiceClosed):
        conversation_open(language="nb")


def test_token_is_stored_only_as_a_hash(staffed: User) -> None:
    conversation, token = conversation_open(language="nn")
    stored = Conversation.objects.get(pk=conversation.pk)
    assert stored.visitor_token_hash == hash_token(token)
    assert token not in stored.visitor_token_hash
    assert conversation_get_for_visitor(token=token).pk == conversation.pk
    with pytest.raises(errors.ConversationNotFound):
        conversation_get_for_visitor(token=token + "x")


def test_first_visitor_message_queues_the_chat(staffed: User) -> None:
    conversation, _token = conversation_open(language="nb")
    assert conversation.status == Conversation.Status.NEW
    result = message_send(
        conversation_id=conversation.pk, party=Party.VISITOR, body="  Hei  ", client_id="a"
    )
    assert (result.message.seq, result.message.body, result.created) == (1, "Hei", True)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING
    assert conversation.queued_at is not None


def test_same_client_id_stores_one_message(staffed: User) -> None:
    conversation, _token = conversation_open(language="nb")
    first = message_send(
        conversation_id=conversation.pk, party=Party.VISITOR, body="Hei", client_id="same"
    )
    again = message_send(
        conversation_id=conversation.pk, party=Party.VISITOR, body="Hei", client_id="same"
    )
    assert again.created is False
    assert again.message.pk == first.message.pk
    assert Message.objects.filter(conversation=conversation).count() == 1


@pytest.mark.parametrize(
    ("body", "client_id", "error"),
    [
        ("", "a", errors.EmptyMessage),
        ("   \n ", "a", errors.EmptyMessage),
        ("x" * 2001, "a", errors.MessageTooLong),
        ("hei", "", errors.InvalidClientId),
        ("hei", "x" * 65, errors.InvalidClientId),
        ("hei", "tab\there", errors.InvalidClientId),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_stored(
    staffed: User, body: str, client_id: str, error: type[errors.DomainError]
) -> None:
    conversation, _token = conversation_open(language="nb")
    with pytest.raises(error):
        message_send(
            conversation_id=conversation.pk, party=Party.VISITOR, body=body, client_id=client_id
        )
    assert not Message.objects.filter(conversation=conversation).exists()


def test_sequence_numbers_have_no_gaps_or_duplicates_under_concurrency(staffed: User) -> None:
    conversation, _token = conversation_open(language="nb")
    failures: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for n in range(15):
                message_send(
                    conversation_id=conversation.pk,
                    party=Party.VISITOR,
                    body=f"{name} {n}",
                    client_id=f"{name}-{n}",
                )
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    seqs = list(Message.objects.filter(conversation=conversation).values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, 61))
    conversation.refresh_from_db()
    assert conversation.last_seq == 60


def test_both_parties_writing_at_once_share_one_numbering(staffed: User) -> None:
    """Visitor and counsellor write into one active chat at once, each send sent twice (a
    retry), and one visitor message mid-way is a crisis, which the one-statement send on
    PostgreSQL leaves to the general path: every message is stored once, numbered without gaps
    or duplicates, and the crisis is flagged with its notice."""
    conversation, _token = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party=Party.VISITOR, body="Hei", client_id="v")
    conversation_claim_next(counsellor=staffed)
    conversation.refresh_from_db()
    before = conversation.last_seq  # the first message and the counsellor's joining notice
    crisis = "eg orkar ikkje meir, vil ikkje leve"
    failures: list[BaseException] = []
    answers: dict[str, set[int]] = {}

    def writer(party: str, author: User | None) -> None:
        try:
            for n in range(20):
                body = crisis if party == Party.VISITOR and n == 10 else f"{party} {n}"
                client_id = f"{party}-{n}"
                for _attempt in range(2):
                    sent = message_send(
                        conversation_id=conversation.pk,
                        party=party,
                        body=body,
                        client_id=client_id,
                        author=author,
                    )
                    answers.setdefault(client_id, set()).add(sent.message.seq)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=writer, args=(Party.VISITOR, None)),
        threading.Thread(target=writer, args=(Party.COUNSELLOR, staffed)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    rows = list(Message.objects.filter(conversation=conversation).values_list("seq", "client_id"))
    total = before + 2 * 20 + 1  # and the crisis notice
    assert sorted(seq for seq, _client_id in rows) == list(range(1, total + 1))
    stored = {client_id: seq for seq, client_id in rows if client_id}
    assert len(stored) == 41
    assert answers == {client_id: {seq} for client_id, seq in stored.items() if client_id != "v"}
    conversation.refresh_from_db()
    assert (conversation.last_seq, conversation.crisis_flagged) == (total, True)
    notice = Message.objects.get(conversation=conversation, body="crisis_help")
    assert notice.seq == stored[f"{Party.VISITOR}-10"] + 1


def test_the_general_send_path_numbers_and_stores_an_ordinary_message(staffed: User) -> None:
    """The path every ordinary send takes on SQLite, and on PostgreSQL one whose chat changed
    between the one-statement attempt and the general path (a race no test can stage)."""
    conversation, _token = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party=Party.VISITOR, body="Hei", client_id="v")
    request = SendRequest(conversation.pk, Party.VISITOR, "Ring 481 23 456", "v-2")
    with transaction.atomic():
        sent = services._send_locked(request)
    with transaction.atomic():
        again = services._send_locked(request)
    assert (sent.created, sent.message.seq, again.created) == (True, 2, False)
    assert again.message.pk == sent.message.pk
    stored = Message.objects.get(pk=sent.message.pk)
    assert (stored.seq, stored.client_id) == (2, "v-2")
    assert "481 23 456" not in stored.body  # redacted at rest
    conversation.refresh_from_db()
    assert conversation.last_seq == 2


def test_a_batch_stores_each_send_once_in_order_and_refuses_only_what_is_refused(
    staffed: User,
) -> None:
    """Group commit (chat/sending.py): many sends, one transaction, one answer each."""
    first, _ = conversation_open(language="nb")
    second, _ = conversation_open(language="nb")
    ended, _ = conversation_open(language="nb")
    conversation_close(conversation_id=ended.pk, party=Party.VISITOR)
    visitor = Party.VISITOR
    results = message_send_batch(
        [
            SendRequest(second.pk, visitor, "Hei fra to", "b-1"),
            SendRequest(first.pk, visitor, "Hei", "a-1"),
            SendRequest(ended.pk, visitor, "For seint", "c-1"),
            SendRequest(first.pk, visitor, "   ", "a-2"),
            SendRequest(first.pk, visitor, "Hei", "a-1"),  # a retry within the batch
            SendRequest(first.pk, visitor, "Er det noen der?", "a-3"),
        ]
    )
    assert [type(r).__name__ for r in results] == [
        "SendResult",
        "SendResult",
        "ConversationClosed",
        "EmptyMessage",
        "SendResult",
        "SendResult",
    ]
    stored = [r for r in results if isinstance(r, SendResult)]
    assert [(r.message.body, r.message.seq, r.created) for r in stored] == [
        ("Hei fra to", 1, True),
        ("Hei", 1, True),
        ("Hei", 1, False),
        ("Er det noen der?", 2, True),
    ]
    assert stored[1].message.pk == stored[2].message.pk
    rows = Message.objects.filter(conversation=first).values_list("seq", "body")
    assert list(rows) == [(1, "Hei"), (2, "Er det noen der?")]
    for conversation in (first, second):  # a first message queues its chat inside a batch too
        conversation.refresh_from_db()
        assert conversation.status == Conversation.Status.WAITING
    assert list(Message.objects.filter(conversation=ended).values_list("body", flat=True)) == [
        "closed_by_visitor"
    ]


def test_a_send_that_fails_in_a_batch_fails_alone(staffed: User) -> None:
    """A chat deleted (say by retention) under an open socket: that send fails, the batch's
    other sends are stored once each."""
    kept, _ = conversation_open(language="nb")
    gone, _ = conversation_open(language="nb")
    other, _ = conversation_open(language="nb")
    gone_pk = gone.pk
    gone.delete()
    visitor = Party.VISITOR
    results = message_send_batch(
        [
            SendRequest(kept.pk, visitor, "Hei", "k-1"),
            SendRequest(gone_pk, visitor, "Hei", "g-1"),
            SendRequest(other.pk, visitor, "Hallo", "o-1"),
        ]
    )
    assert isinstance(results[0], SendResult)
    assert isinstance(results[1], Conversation.DoesNotExist)
    assert isinstance(results[2], SendResult)
    assert [results[0].message.seq, results[2].message.seq] == [1, 1]
    bodies = Message.objects.order_by("conversation_id").values_list("conversation_id", "body")
    assert list(bodies) == [(kept.pk, "Hei"), (other.pk, "Hallo")]


def test_a_batch_to_many_chats_numbers_each_chat_in_the_order_its_sends_came(
    staffed: User, other_counsellor: User
) -> None:
    """What a busy server commits at once: ordinary messages to several chats from both sides,
    a chat's own sends in a row, a refusal and a crisis among them (on PostgreSQL, one
    statement per round of each chat's k-th send; the crisis takes the general path)."""
    a, b, c = (conversation_open(language="nb")[0] for _ in range(3))
    for chat in (a, b, c):
        message_send(conversation_id=chat.pk, party=Party.VISITOR, body="Hei", client_id="first")
    assert conversation_claim_next(counsellor=staffed).pk == a.pk
    a.refresh_from_db()
    before = a.last_seq
    visitor, counsellor = Party.VISITOR, Party.COUNSELLOR
    results = message_send_batch(
        [
            SendRequest(b.pk, visitor, "Jeg lurer på fagskole", "b-2"),
            SendRequest(a.pk, counsellor, "Hei, jeg heter Kari", "a-c1", staffed),
            SendRequest(a.pk, visitor, "Hei Kari", "a-2"),
            SendRequest(b.pk, counsellor, "Ikke min samtale", "b-c1", other_counsellor),
            SendRequest(c.pk, visitor, "eg orkar ikkje meir, vil ikkje leve", "c-2"),
            SendRequest(b.pk, visitor, "Ring meg på 481 23 456", "b-3"),
            SendRequest(a.pk, counsellor, "Hva lurer du på?", "a-c2", staffed),
        ]
    )
    assert [type(r).__name__ for r in results] == [
        "SendResult",
        "SendResult",
        "SendResult",
        "NotYourConversation",
        "SendResult",
        "SendResult",
        "SendResult",
    ]
    seqs = [r.message.seq for r in results if isinstance(r, SendResult)]
    assert seqs == [2, before + 1, before + 2, 2, 3, before + 3]
    for chat in (a, b, c):  # each chat: 1..n, no gaps, its sends in the order they came
        rows = list(Message.objects.filter(conversation=chat).values_list("seq", "body"))
        assert [seq for seq, _body in rows] == list(range(1, len(rows) + 1))
        chat.refresh_from_db()
        assert chat.last_seq == len(rows)
    sent_in_a = Message.objects.filter(conversation=a, seq__gt=before)
    assert list(sent_in_a.values_list("body", flat=True)) == [
        "Hei, jeg heter Kari",
        "Hei Kari",
        "Hva lurer du på?",
    ]
    assert list(Message.objects.filter(conversation=b).values_list("body", flat=True)) == [
        "Hei",
        "Jeg lurer på fagskole",
        "Ring meg på [telefon]",
    ]
    assert list(Message.objects.filter(conversation=c).values_list("body", flat=True))[-2:] == [
        "eg orkar ikkje meir, vil ikkje leve",
        "crisis_help",
    ]
    c.refresh_from_db()
    assert c.crisis_flagged
    assert Message.objects.get(conversation=a, client_id="a-c1").author_id == staffed.pk


def test_counsellor_writes_only_in_own_active_chats(staffed: User, other_counsellor: User) -> None:
    conversation, _token = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party=Party.VISITOR, body="Hei", client_id="v")
    with pytest.raises(errors.NotYourConversation):
        message_send(
            conversation_id=conversation.pk,
            party=Party.COUNSELLOR,
            body="Hei",
            client_id="c",
            author=staffed,
        )
    conversation_claim_next(counsellor=staffed)
    with pytest.raises(errors.NotYourConversation):
        message_send(
            conversation_id=conversation.pk,
            party=Party.COUNSELLOR,
            body="Hei",
            client_id="c",
            author=other_counsellor,
        )
    sent = message_send(
        conversation_id=conversation.pk,
        party=Party.COUNSELLOR,
        body="Hei fra Kari",
        client_id="c",
        author=staffed,
    )
    assert (sent.message.seq, sent.message.author_id) == (3, staffed.pk)


def test_leaving_the_queue_is_abandoned_and_not_rated(staffed: User) -> None:
    conversation, _token = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party=Party.VISITOR, body="Hei", client_id="v")
    assert conversation_close(conversation_id=conversation.pk, party=Party.VISITOR) is True
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.ABANDONED
    assert conversation.rating_offered is False
    with pytest.raises(errors.RatingNotOffered):
        conversation_rate(conversation_id=conversation.pk, value="up")
    assert conversation_close(conversation_id=conversation.pk, party=Party.VISITOR) is False


def test_closed_chat_offers_rating_and_takes_no_more_messages(staffed: User) -> None:
    conversation, _token = conversation_open(language="nb")
    message_send(conversation_id=conversation.pk, party=Party.VISITOR, body="Hei", client_id="v")
    conversation_claim_next(counsellor=staffed)
    conversation_close(conversation_id=conversation.pk, party=Party.COUNSELLOR, actor_id=staffed.pk)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.closed_by) == ("closed", "counsellor")
    assert conversation.rating_offered is True
    with pytest.raises(errors.ConversationClosed):
        message_send(
            conversation_id=conversation.pk, party=Party.VISITOR, body="Hallo?", client_id="v2"
        )
    conversation_rate(conversation_id=conversation.pk, value="down")
    conversation.refresh_from_db()
    assert conversation.rating == "down"
    # The counsellor can end the shift once no chat is active.
    shift_end(counsellor=staffed)
