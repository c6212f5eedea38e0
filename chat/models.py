from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Conversation(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        WAITING = "waiting", _("Waiting")
        ACTIVE = "active", _("In progress")
        CLOSED = "closed", _("Closed")
        ABANDONED = "abandoned", _("Abandoned")

    class Party(models.TextChoices):
        VISITOR = "visitor", _("Visitor")
        COUNSELLOR = "counsellor", _("Counsellor")
        SYSTEM = "system", _("System")

    class Rating(models.TextChoices):
        UP = "up", _("Thumbs up")
        DOWN = "down", _("Thumbs down")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    language = models.CharField(max_length=8, default="nb")
    # Self-reported and optional; SSB county code. Used for county preference and statistics.
    visitor_county = models.CharField(max_length=2, blank=True)
    # The handling counsellor's county at assignment time (for statistics and cost sharing).
    counsellor_county = models.CharField(max_length=2, blank=True)
    # Higher first (crisis-flagged chats); then requeued chats; then the longest-waiting.
    priority = models.SmallIntegerField(default=0)
    requeued = models.BooleanField(default=False)
    # Set by moderation: a crisis signal (also raises ``priority``) or abuse toward staff.
    crisis_flagged = models.BooleanField(default=False)
    abuse_flagged = models.BooleanField(default=False)
    # SHA-256 of the visitor's random token; the token itself lives only in their cookie.
    visitor_token_hash = models.CharField(max_length=64, unique=True)
    counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=16, choices=Party.choices, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    visitor_seen_seq = models.PositiveIntegerField(default=0)
    counsellor_seen_seq = models.PositiveIntegerField(default=0)
    rating_offered = models.BooleanField(default=False)
    rating = models.CharField(max_length=8, choices=Rating.choices, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "queued_at"], name="conv_status_queued"),
            models.Index(fields=["counsellor", "status"], name="conv_counsellor_status"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"

    OPEN_STATUSES = frozenset({Status.NEW, Status.WAITING, Status.ACTIVE})

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=16, choices=Conversation.Party.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # For system messages, ``body`` is an event code the client translates ("assigned", ...).
    body = models.TextField()
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="msg_unique_seq"),
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"],
                condition=~Q(client_id=""),
                name="msg_unique_client_id",
            ),
        ]
        ordering = ["conversation_id", "seq"]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq} {self.sender}"
