"""Writes to conversations and messages. Validate and authorise first, then mutate."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from chat import conf, events
from chat.errors import (
    ConversationClosed,
    DomainError,
    EmptyMessage,
    InvalidClientId,
    InvalidCounty,
    MessageTooLong,
    NotYourConversation,
    RatingNotOffered,
    ServiceClosed,
    VisitorBlocked,
)
from chat.models import Conversation, Message
from chat.selectors import hash_token
from moderation.crisis import is_crisis
from moderation.models import VisitorBlock
from moderation.ratelimit import TooManyNewChats, allow_shared
from moderation.redaction import redact
from routing import events as routing_events
from routing import selectors as routing_selectors

log = logging.getLogger(__name__)

Party = Conversation.Party
Status = Conversation.Status
CRISIS_PRIORITY = 10


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool


def conversation_open(*, language: str, county: str = "") -> tuple[Conversation, str]:
    """Open a conversation for a new visitor; returns it with the visitor's raw token."""
    if county and county not in {c.code for c in routing_selectors.current_counties()}:
        raise InvalidCounty
    if not routing_selectors.service_is_open():
        raise ServiceClosed
    if not allow_shared("new_chat", conf.rate_limits()["new_chat"], 60):
        raise TooManyNewChats
    token = secrets.token_urlsafe(32)
    conversation = Conversation.objects.create(
        language=language, visitor_county=county, visitor_token_hash=hash_token(token)
    )
    return conversation, token


def _clean_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise EmptyMessage
    if len(text) > conf.max_message_chars():
        raise MessageTooLong
    return text


def _check_client_id(client_id: str) -> None:
    if not (1 <= len(client_id) <= 64) or not client_id.isprintable():
        raise InvalidClientId


def _check_can_send(
    conversation: Conversation | _Head, party: str, author_id: int | None, *, blocked: bool
) -> None:
    if party == Party.VISITOR:
        if not conversation.is_open:
            raise ConversationClosed
        if blocked:
            raise VisitorBlocked
        return
    if conversation.counsellor_id is None or conversation.counsellor_id != author_id:
        raise NotYourConversation
    if conversation.status != Status.ACTIVE:
        raise ConversationClosed


def _append(
    conversation: Conversation,
    *,
    sender: str,
    body: str,
    author: User | None = None,
    client_id: str = "",
    stored_body: str | None = None,
) -> Message:
    """Number and store one message. The caller holds the conversation row lock.

    ``stored_body`` (the redacted text) is what the database keeps; the live event carries
    ``body``, what was written, to the people in the conversation right now."""
    conversation.last_seq += 1
    message = Message.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        sender=sender,
        author=author,
        body=body if stored_body is None else stored_body,
        client_id=client_id,
    )
    events.publish_message(conversation.public_id, message, _author_name(author), live_body=body)
    return message


def _author_name(author: User | None) -> str:
    return getattr(author, "first_name", "") or (author.get_username() if author else "")


@dataclass
class _Head:
    """The columns of a locked conversation that an ordinary message reads and writes."""

    pk: int
    public_id: uuid.UUID
    status: str
    counsellor_id: int | None
    last_seq: int
    crisis_flagged: bool

    @property
    def is_open(self) -> bool:
        return self.status in Conversation.OPEN_STATUSES


def _append_plain(
    head: _Head, *, sender: str, body: str, stored_body: str, author: User | None, client_id: str
) -> Message:
    """``_append`` for the common case, in hand-written SQL: the message row, then the
    conversation's ``last_seq``. Through the ORM a send cost 1,164 µs of CPU in-process, this way
    248 µs (docs/performance.md). Every ordinary send on SQLite comes here; on PostgreSQL
    ``_send_statement`` does the same in one statement, and only a send whose chat changed
    between that statement and ``_send_locked`` comes here."""
    conversations = Conversation._meta.db_table
    messages = Message._meta.db_table
    head.last_seq += 1
    now = timezone.now()
    author_id = author.pk if author is not None else None
    values: list[Any] = [
        head.pk,
        head.last_seq,
        sender,
        author_id,
        stored_body,
        client_id,
        connection.ops.adapt_datetimefield_value(now),
    ]
    insert = (
        f"INSERT INTO {messages}"  # noqa: S608 (table names from the models, values as parameters)
        " (conversation_id, seq, sender, author_id, body, client_id, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    bump = f"UPDATE {conversations} SET last_seq = %s WHERE id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"{insert} RETURNING id", values)  # SQLite has RETURNING since 3.35
        pk = cursor.fetchone()[0]
        cursor.execute(bump, [head.last_seq, head.pk])
    return _stored(
        head.public_id,
        pk=pk,
        conversation_id=head.pk,
        seq=head.last_seq,
        sender=sender,
        author=author,
        body=stored_body,
        client_id=client_id,
        created_at=now,
        live_body=body,
    )


# ``_stored``'s values, in the model's field order (``Model.from_db`` maps them by name if a
# field is ever added).
_MESSAGE_COLUMNS = (
    "id",
    "conversation_id",
    "seq",
    "sender",
    "author_id",
    "body",
    "client_id",
    "created_at",
)


def _stored(
    public_id: uuid.UUID,
    *,
    pk: int,
    conversation_id: int,
    seq: int,
    sender: str,
    author: User | None,
    body: str,
    client_id: str,
    created_at: dt.datetime,
    live_body: str,
) -> Message:
    """The ``Message`` of a row just inserted by hand-written SQL, announced on commit."""
    message = _built(
        pk=pk,
        conversation_id=conversation_id,
        seq=seq,
        sender=sender,
        author=author,
        body=body,
        client_id=client_id,
        created_at=created_at,
    )
    events.publish_message(public_id, message, _author_name(author), live_body=live_body)
    return message


def _built(
    *,
    pk: int,
    conversation_id: int,
    seq: int,
    sender: str,
    author: User | None,
    body: str,
    client_id: str,
    created_at: dt.datetime,
) -> Message:
    """The ``Message`` of a row just inserted by hand-written SQL; no query."""
    # Built as a query's row builds a model: keyword arguments cost a twentieth of a send's
    # CPU at saturation (docs/performance.md).
    author_id = author.pk if author is not None else None
    values = (pk, conversation_id, seq, sender, author_id, body, client_id, created_at)
    message = Message.from_db(DEFAULT_DB_ALIAS, _MESSAGE_COLUMNS, values)
    if author is not None:
        Message.author.field.set_cached_value(message, author)
    return message


def _stored_before(pk: int) -> SendResult:
    """A retry's answer: the message its ``client_id`` stored."""
    return SendResult(Message.objects.select_related("author").get(pk=pk), created=False)


def message_append_system(
    *, conversation: Conversation, code: str, author: User | None = None
) -> Message:
    """Append a system notice (``code`` is translated by clients) to a locked conversation."""
    return _append(conversation, sender=Party.SYSTEM, body=code, author=author)


def lock_conversation(conversation_id: int) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("counsellor")
        .get(pk=conversation_id)
    )


def _lock_for_send(
    conversation_id: int, party: str, client_id: str
) -> tuple[_Head, int | None, bool]:
    """Lock the conversation row and, in the same round trip, answer "was this ``client_id``
    stored before?" (``earlier_id``) and "is the visitor blocked?" (``blocked``).

    Hand-written SQL on purpose: the same query through the ORM cost 1.1 ms of CPU to compile
    on every message, more than everything else in a send, and building a model instance from
    every column was most of what remained (docs/performance.md). The SQL is plain enough for
    both PostgreSQL and SQLite; tests/chat/test_services.py covers each path.
    """
    conversations = Conversation._meta.db_table
    messages = Message._meta.db_table
    blocks = VisitorBlock._meta.db_table
    lock = " FOR UPDATE OF c" if connection.features.has_select_for_update_of else ""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = (
        "SELECT c.id, c.public_id, c.status, c.counsellor_id, c.last_seq, c.crisis_flagged,"  # noqa: S608 (table names from the models, values as parameters)
        f" (SELECT m.id FROM {messages} m WHERE m.conversation_id = c.id AND m.sender = %s"
        # The index's own condition lets SQLite use the partial unique index (msg_unique_client_id):
        # a bound parameter proves nothing, and without it each send scanned the chat's messages.
        f" AND m.client_id = %s AND NOT (m.client_id = '') LIMIT 1),"
        f" EXISTS (SELECT 1 FROM {blocks} b WHERE b.token_hash = c.visitor_token_hash"
        f" AND b.until > %s AND b.lifted_at IS NULL)"
        f" FROM {conversations} c WHERE c.id = %s{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [party, client_id, now, conversation_id])
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist
    pk, public_id, status, counsellor_id, last_seq, crisis, earlier_id, blocked = row
    head = _Head(
        pk=pk,
        public_id=public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(public_id),
        status=status,
        counsellor_id=counsellor_id,
        last_seq=last_seq,
        crisis_flagged=bool(crisis),
    )
    return head, earlier_id, bool(blocked)


@dataclass(frozen=True)
class SendRequest:
    conversation_id: int
    party: str
    body: str
    client_id: str
    author: User | None = None


def message_send(
    *,
    conversation_id: int,
    party: str,
    body: str,
    client_id: str,
    author: User | None = None,
) -> SendResult:
    """Store a message exactly once per ``client_id``; a retry returns the stored one."""
    return _send(SendRequest(conversation_id, party, body, client_id, author), alone=True)


def message_send_batch(requests: Sequence[SendRequest]) -> list[SendResult | Exception]:
    """Group commit: store many sends in one transaction, one result (or refusal) per request,
    in the order given. No send costs its own commit, which was a large part of a message's
    cost (BEGIN and COMMIT, and on PostgreSQL a WAL flush); on SQLite each still costs its own
    statements, on PostgreSQL the ordinary ones share one statement per round
    (``_send_rounds``); see docs/performance.md. A batch of one is sent alone: on PostgreSQL,
    one statement.

    Sends are taken in conversation order (stable, so a chat's own sends keep theirs), so two
    batches lock rows in one order. A refusal (``DomainError``) is raised before its send has
    written anything, so the batch goes on. Any other failure keeps nothing of the batch: when
    the database is unreachable every send fails (their clients retry); otherwise each send is
    tried again in a transaction of its own, so one send's failure is never another's."""
    if len(requests) == 1:
        return [_send_alone(requests[0])]
    results: dict[int, SendResult | Exception] = {}
    order = sorted(range(len(requests)), key=lambda i: requests[i].conversation_id)
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                _send_rounds(requests, order, results)
            else:
                for i in order:
                    try:
                        results[i] = _send(requests[i], alone=False)
                    except DomainError as exc:
                        results[i] = exc
    except (OperationalError, InterfaceError) as exc:
        return [exc] * len(requests)
    except Exception:
        log.warning("a batch of %d sends failed; sending each on its own", len(requests))
        return [_send_alone(request) for request in requests]
    return [results[i] for i in range(len(requests))]


def _send_alone(request: SendRequest) -> SendResult | Exception:
    """``_send`` in a transaction of its own; what it raised is returned."""
    try:
        return _send(request, alone=True)
    except Exception as exc:
        return exc


def _send(request: SendRequest, *, alone: bool) -> SendResult:
    """One send: in a transaction of its own (``alone``) or inside the caller's. Every refusal
    comes before a write. On PostgreSQL an ordinary message is one statement; sent alone it
    runs outside a transaction, so it is its own: no BEGIN or COMMIT round trip."""
    if connection.vendor == "postgresql":
        (answer,) = _send_statement([request])
        if isinstance(answer, DomainError):
            raise answer
        if answer is not None:
            return answer
    if not alone:
        return _send_locked(request)
    with transaction.atomic():
        return _send_locked(request)


def _send_rounds(
    requests: Sequence[SendRequest], order: list[int], results: dict[int, SendResult | Exception]
) -> None:
    """A batch on PostgreSQL, inside the caller's transaction: one statement per round, where
    round k holds each chat's k-th send (the statement numbers one message per chat). Sends the
    statement leaves to Python take the general path before the next round, so a chat's sends
    keep their order."""
    rounds: list[list[int]] = []
    taken: dict[int, int] = {}
    for i in order:
        k = taken.get(requests[i].conversation_id, 0)
        taken[requests[i].conversation_id] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(i)
    for chosen in rounds:
        answers = _send_statement([requests[i] for i in chosen])
        for i, answer in zip(chosen, answers, strict=True):
            if answer is None:
                try:
                    answer = _send_locked(requests[i])
                except DomainError as exc:
                    answer = exc
            results[i] = answer


def _send_statement(requests: Sequence[SendRequest]) -> list[SendResult | DomainError | None]:
    """Ordinary messages to different chats on PostgreSQL in one statement: lock each
    conversation, find an earlier send with the ``client_id``, check who may write, number and
    insert the message. One answer per request: the result, a refusal, or ``None`` when Python
    must decide.

    Before, a send took four round trips (BEGIN, the locking read, the insert, COMMIT), each
    with the driver's cost on both sides; then one statement per send; now one per batch
    (docs/performance.md). The statement writes a chat's message only when nothing needs
    deciding in Python. Otherwise it writes nothing for that chat and the conversation's columns
    it returns say why: a retry (the stored message is returned), a refusal, or a first or
    crisis message (``None``: the caller takes ``_send_locked``, the general path). The sequence
    number is ``last_seq + 1`` of the row as the UPDATE finds it, so a send that waited for
    another's lock numbers after it. A chat that does not exist raises
    ``Conversation.DoesNotExist``."""
    answers: list[SendResult | DomainError | None] = [None] * len(requests)
    # conversation -> the request's place, its text and its row for the statement
    chosen: dict[int, tuple[int, str, dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    for n, request in enumerate(requests):
        assert request.conversation_id not in chosen, "one send per chat in a statement"
        try:
            text, row = send_row(request)
        except DomainError as exc:
            answers[n] = exc
            continue
        chosen[request.conversation_id] = (n, text, row)
        rows.append(row)
    if not rows:
        return answers
    now = timezone.now()
    params = send_params(now)
    many = len(rows) > 1
    if many:
        params["rows"] = orjson.dumps(rows).decode()
    else:
        params.update(rows[0])
    with connection.cursor() as cursor:
        cursor.execute(send_sql(many=many), params)
        found = cursor.fetchall()
    if len(found) != len(chosen):
        raise Conversation.DoesNotExist
    for line in found:
        pk, public_id, status, counsellor_id, last_seq, crisis, earlier_id, blocked = line[:8]
        new_id, seq = line[8:]
        n, text, row = chosen[pk]
        request = requests[n]
        if new_id is not None:
            message = _stored(
                public_id,
                pk=new_id,
                conversation_id=pk,
                seq=seq,
                sender=request.party,
                author=request.author,
                body=row["body"],
                client_id=request.client_id,
                created_at=now,
                live_body=text,
            )
            answers[n] = SendResult(message, created=True)
        elif earlier_id is not None:
            answers[n] = _stored_before(earlier_id)
        else:
            head = _Head(pk, public_id, status, counsellor_id, last_seq, crisis)
            try:
                _check_can_send(head, request.party, row["author"], blocked=blocked)
            except DomainError as exc:
                answers[n] = exc
    return answers


def send_row(request: SendRequest) -> tuple[str, dict[str, Any]]:
    """The text of a send and its row for the send statement; raises a refusal
    (``DomainError``) for a body or ``client_id`` no chat would take."""
    _check_client_id(request.client_id)
    text = _clean_body(request.body)
    visitor = request.party == Party.VISITOR
    row: dict[str, Any] = {
        "id": request.conversation_id,
        "party": request.party,
        "client_id": request.client_id,
        # Looked for here, before the row is read: on a chat already flagged it is not
        # needed, but the statement cannot ask Python half-way.
        "crisis": visitor and is_crisis(text),
        "author": request.author.pk if request.author is not None else None,
        "body": redact(text) if visitor else text,  # what is stored
    }
    return text, row


def send_params(now: dt.datetime) -> dict[str, Any]:
    """The send statement's parameters that are not a request's."""
    return {
        "now": now,  # psycopg binds an aware datetime as it is
        "visitor": Party.VISITOR,
        "waiting": Status.WAITING,  # the open statuses but NEW: a first message queues the chat
        "active": Status.ACTIVE,
    }


def send_stored_alone(
    request: SendRequest, text: str, row: dict[str, Any], found: Sequence[Any], now: dt.datetime
) -> SendResult | None:
    """A single send's answer from the send statement's one result row, when the statement
    stored the message; ``None`` for everything else (nothing was written: a retry, a
    refusal, a first or crisis message, a chat that does not exist). Builds the message
    without a query and announces nothing: the caller rings the doorbell."""
    if len(found) != 1:
        return None
    new_id, seq = found[0][8:]
    if new_id is None:
        return None
    message = _built(
        pk=new_id,
        conversation_id=row["id"],
        seq=seq,
        sender=request.party,
        author=request.author,
        body=row["body"],
        client_id=request.client_id,
        created_at=now,
    )
    return SendResult(message, created=True)


def author_name(author: User | None) -> str:
    return _author_name(author)


@cache
def send_sql(*, many: bool) -> str:
    """``_send_statement``'s SQL (constant: the tables' names) for one send or many. Many
    come as rows of one JSON parameter, one as plain parameters: binding each value costs the
    driver more than the JSON does, and for one send the rows cost PostgreSQL more than the
    parameters (docs/performance.md)."""
    conversations = Conversation._meta.db_table
    messages = Message._meta.db_table
    blocks = VisitorBlock._meta.db_table

    def ref(name: str, table: str) -> str:
        """A column of the request: from its JSON row, or a parameter."""
        return f"{table}.{name}" if many else f"%({name})s"

    if many:
        carried = ", r.party, r.client_id, r.crisis, r.author, r.body"
        rows = (
            "json_to_recordset(%(rows)s::json) AS r(id bigint, party text, client_id text,"
            " crisis boolean, author integer, body text)"
        )
        # Locked in one order, as every batch is (a deadlock needs two orders).
        source = f" FROM {conversations} c JOIN {rows} ON r.id = c.id ORDER BY c.id"
    else:
        carried, source = "", f" FROM {conversations} c WHERE c.id = %(id)s"
    return (
        "WITH head AS ("  # noqa: S608 (table names from the models, values as parameters)
        " SELECT c.id, c.public_id, c.status, c.counsellor_id, c.last_seq, c.crisis_flagged,"
        f" (SELECT m.id FROM {messages} m WHERE m.conversation_id = c.id"
        f" AND m.sender = {ref('party', 'r')} AND m.client_id = {ref('client_id', 'r')}"
        " AND NOT (m.client_id = '') LIMIT 1) AS earlier,"
        f" EXISTS (SELECT 1 FROM {blocks} b WHERE b.token_hash = c.visitor_token_hash"
        f" AND b.until > %(now)s AND b.lifted_at IS NULL) AS blocked{carried}"
        f"{source} FOR UPDATE OF c),"
        f" bump AS (UPDATE {conversations} c SET last_seq = c.last_seq + 1 FROM head h"
        f" WHERE c.id = h.id AND h.earlier IS NULL AND CASE WHEN {ref('party', 'h')} = %(visitor)s"
        " THEN h.status IN (%(waiting)s, %(active)s) AND NOT h.blocked"
        f" AND NOT ({ref('crisis', 'h')} AND NOT h.crisis_flagged)"
        f" ELSE h.status = %(active)s AND h.counsellor_id = {ref('author', 'h')} END"
        " RETURNING c.id, c.last_seq),"
        f" added AS (INSERT INTO {messages}"
        " (conversation_id, seq, sender, author_id, body, client_id, created_at)"
        f" SELECT h.id, b.last_seq, {ref('party', 'h')}, {ref('author', 'h')}, {ref('body', 'h')},"
        f" {ref('client_id', 'h')}, %(now)s FROM bump b JOIN head h ON h.id = b.id"
        " RETURNING conversation_id, id, seq)"
        " SELECT h.id, h.public_id, h.status, h.counsellor_id, h.last_seq, h.crisis_flagged,"
        " h.earlier, h.blocked, a.id, a.seq FROM head h"
        " LEFT JOIN added a ON a.conversation_id = h.id"
    )


def _send_locked(request: SendRequest) -> SendResult:
    """The general send, inside the caller's transaction: lock, decide in Python, write."""
    party, client_id, author = request.party, request.client_id, request.author
    _check_client_id(client_id)
    text = _clean_body(request.body)
    author_id = author.pk if author is not None else None
    head, earlier_id, blocked = _lock_for_send(request.conversation_id, party, client_id)
    if earlier_id is not None:
        return _stored_before(earlier_id)
    _check_can_send(head, party, author_id, blocked=blocked)
    visitor = party == Party.VISITOR
    crisis = visitor and not head.crisis_flagged and is_crisis(text)
    first = visitor and head.status == Status.NEW
    if not (crisis or first):  # nearly every message: nothing but the message changes
        message = _append_plain(
            head,
            sender=party,
            body=text,
            stored_body=redact(text) if visitor else text,
            author=author,
            client_id=client_id,
        )
        return SendResult(message, created=True)
    conversation = lock_conversation(request.conversation_id)  # the whole row, already locked
    message = _append(
        conversation,
        sender=party,
        body=text,
        author=author,
        client_id=client_id,
        stored_body=redact(text) if visitor else None,
    )
    fields = ["last_seq"]
    if first:
        conversation.status = Status.WAITING
        conversation.queued_at = timezone.now()
        fields += ["status", "queued_at"]
    if crisis:
        # Front of the queue, alerts on the desk and the dashboard, help on the screen,
        # and never closed or timed out automatically (docs/moderation.md).
        conversation.crisis_flagged = True
        conversation.priority = max(conversation.priority, CRISIS_PRIORITY)
        message_append_system(conversation=conversation, code="crisis_help")
        fields += ["crisis_flagged", "priority"]
    events.publish_status(conversation)
    routing_events.publish_queue_changed()
    conversation.save(update_fields=fields)
    return SendResult(message, created=True)


def conversation_close(*, conversation_id: int, party: str, actor_id: int | None = None) -> bool:
    """End a conversation. Returns False when it had already ended (closing is idempotent)."""
    with transaction.atomic():
        conversation = lock_conversation(conversation_id)
        if party == Party.COUNSELLOR and conversation.counsellor_id != actor_id:
            raise NotYourConversation
        if not conversation.is_open:
            return False
        was_waiting = conversation.status in {Status.NEW, Status.WAITING}
        talked = conversation.status == Status.ACTIVE
        conversation.status = Status.ABANDONED if was_waiting else Status.CLOSED
        conversation.closed_at = timezone.now()
        conversation.closed_by = party
        conversation.rating_offered = talked
        message_append_system(conversation=conversation, code=f"closed_by_{party}")
        conversation.save(
            update_fields=["status", "closed_at", "closed_by", "rating_offered", "last_seq"]
        )
        events.publish_status(conversation)
        # Either the queue got shorter or a counsellor got a free place: dispatch again.
        routing_events.publish_queue_changed()
    return True


def conversation_rate(*, conversation_id: int, value: str) -> None:
    with transaction.atomic():
        conversation = lock_conversation(conversation_id)
        if not conversation.rating_offered or conversation.status != Status.CLOSED:
            raise RatingNotOffered
        conversation.rating = value
        conversation.save(update_fields=["rating"])


def conversation_mark_seen(*, conversation: Conversation, party: str, seq: int) -> None:
    """Record that ``party`` has received everything up to ``seq`` (delivery receipts)."""
    field = "visitor_seen_seq" if party == Party.VISITOR else "counsellor_seen_seq"
    with transaction.atomic():
        updated = Conversation.objects.filter(
            pk=conversation.pk, last_seq__gte=seq, **{f"{field}__lt": seq}
        ).update(**{field: seq})
        if updated:
            events.publish_receipt(conversation, party, seq)


def conversation_typing(*, conversation_key: str, party: str) -> None:
    """Tell the other side that ``party`` is typing. Nothing is stored."""
    events.publish_typing(conversation_key, party)


def staff_sockets_close(*, user_id: int) -> None:
    """Log-out ends the session everywhere: every open desk or dashboard of the user closes."""
    events.publish_session_ended(user_id)
