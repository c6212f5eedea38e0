from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class County(models.Model):
    """A county (fylke) as SSB codes it, valid for a period: county lists change over time."""

    code = models.CharField(max_length=2)
    name = models.CharField(max_length=100)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    centre_url = models.URLField(blank=True, help_text=_("The county career centre's web page."))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["code", "valid_from"], name="county_code_period")
        ]
        ordering = ["code"]
        verbose_name_plural = "counties"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Organisation(models.Model):
    """A county career centre or the central unit; counsellors belong to one."""

    class Kind(models.TextChoices):
        COUNTY_CENTRE = "county_centre", _("County career centre")
        CENTRAL_UNIT = "central_unit", _("Central unit")

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    county_code = models.CharField(max_length=2, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    url = models.URLField(blank=True)

    def __str__(self) -> str:
        return self.name


class CounsellorProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="counsellor_profile"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    # Language codes the counsellor can chat in, e.g. "nb,nn,en".
    languages = models.CharField(max_length=64, default="nb,nn")

    def __str__(self) -> str:
        return f"{self.user} ({self.organisation})"


class OpeningHours(models.Model):
    """One opening interval on a weekday (0 = Monday), in the service's time zone."""

    weekday = models.PositiveSmallIntegerField()
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"

    def __str__(self) -> str:
        return f"{self.weekday} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Closure(models.Model):
    """A holiday or other closed day (the whole day, in the service's time zone)."""

    date = models.DateField(unique=True)
    reason = models.CharField(max_length=200)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}"


class ScheduledShift(models.Model):
    """The rota: who is scheduled when. Availability itself comes from started shifts."""

    counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_shifts"
    )
    name = models.CharField(max_length=80, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.counsellor} {self.starts_at:%Y-%m-%d %H:%M}"


class ServiceOverride(models.Model):
    """A supervisor's decision to close early or open ad hoc, with a reason, for a period."""

    class Kind(models.TextChoices):
        CLOSE = "close", _("Closed early")
        OPEN = "open", _("Opened ad hoc")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    reason = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.starts_at:%Y-%m-%d %H:%M}"


class Shift(models.Model):
    """A counsellor's started shift. Open while ``ended_at`` is empty."""

    counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # When the counsellor last got a chat (or started): "longest idle" breaks ties.
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["counsellor"],
                condition=Q(ended_at__isnull=True),
                name="shift_one_open_per_counsellor",
            )
        ]

    def __str__(self) -> str:
        return f"{self.counsellor_id} {self.started_at:%Y-%m-%d %H:%M}"


class Presence(models.Model):
    """One live WebSocket. Rows whose heartbeat has stopped (a killed process) are stale."""

    channel_name = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    conversation = models.ForeignKey(
        "chat.Conversation", null=True, blank=True, on_delete=models.CASCADE
    )
    connected_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.channel_name


class PresenceGone(models.Model):
    """When a counsellor's or visitor's last socket went away: the start of a grace period."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    conversation = models.OneToOneField(
        "chat.Conversation", null=True, blank=True, on_delete=models.CASCADE
    )
    gone_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id or self.conversation_id} {self.gone_at}"


class Transfer(models.Model):
    """A hand-over of a chat, with a note for the next counsellor (never shown to visitors)."""

    conversation = models.ForeignKey(
        "chat.Conversation", on_delete=models.CASCADE, related_name="transfers"
    )
    from_counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.conversation_id} → {self.to_counsellor_id or 'queue'}"


class DispatchLock(models.Model):
    """A single row that serialises automatic assignment across processes."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)

    def __str__(self) -> str:
        return "dispatch lock"


class AuditEntry(models.Model):
    """Who did what, when. Never message content: ``detail`` is the actor's stated reason."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=80, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target}"
