from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class Taxonomy(models.Model):
    """A published version of the topic list. Codes are stable across versions; labels can
    be renamed inside a version without touching any statistics."""

    version = models.CharField(max_length=20, unique=True)
    is_current = models.BooleanField(default=False)
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "taxonomies"

    def __str__(self) -> str:
        return self.version


class Topic(models.Model):
    class Kind(models.TextChoices):
        TOPIC = "topic", _("Topic")
        REFERRAL = "referral", _("Referral")

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="topics")
    code = models.CharField(max_length=60)
    parent_code = models.CharField(max_length=60, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TOPIC)
    label_nb = models.CharField(max_length=200)
    label_nn = models.CharField(max_length=200)
    label_en = models.CharField(max_length=200)
    sort = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "code"], name="topic_code_per_version")
        ]
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.taxonomy_id})"

    def label(self, language: str | None = None) -> str:
        language = language or translation.get_language() or "nb"
        return str(getattr(self, f"label_{language}", "") or self.label_nb)


class Wrapup(models.Model):
    """The counsellor's wrap-up of a chat: topics (required) and an optional referral."""

    conversation = models.OneToOneField(
        "chat.Conversation", on_delete=models.CASCADE, related_name="wrapup"
    )
    taxonomy_version = models.CharField(max_length=20)
    topics = models.JSONField(default=list)
    referral = models.CharField(max_length=60, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.conversation_id}: {', '.join(self.topics)}"


NOT_GIVEN = "ikke_oppgitt"


class VisitorAttributes(models.Model):
    """Optional, self-reported, always skippable. "Not given" is a real value."""

    conversation = models.OneToOneField(
        "chat.Conversation", on_delete=models.CASCADE, related_name="attributes"
    )
    age_band = models.CharField(max_length=20, default=NOT_GIVEN)
    gender = models.CharField(max_length=20, default=NOT_GIVEN)
    situation = models.CharField(max_length=20, default=NOT_GIVEN)
    education = models.CharField(max_length=20, default=NOT_GIVEN)
    heard_from = models.CharField(max_length=20, default=NOT_GIVEN)

    def __str__(self) -> str:
        return f"attributes of {self.conversation_id}"


class StatRow(models.Model):
    """One chat, coded fields only. Outlives the transcript (retention deletes text, not this)."""

    conversation_key = models.UUIDField(unique=True)
    queued_at = models.DateTimeField(db_index=True)
    language = models.CharField(max_length=8)
    visitor_county = models.CharField(max_length=2, blank=True)
    counsellor_county = models.CharField(max_length=2, blank=True)
    taxonomy_version = models.CharField(max_length=20, blank=True)
    topics = models.JSONField(default=list)
    referral = models.CharField(max_length=60, blank=True)
    age_band = models.CharField(max_length=20, default=NOT_GIVEN)
    gender = models.CharField(max_length=20, default=NOT_GIVEN)
    situation = models.CharField(max_length=20, default=NOT_GIVEN)
    education = models.CharField(max_length=20, default=NOT_GIVEN)
    heard_from = models.CharField(max_length=20, default=NOT_GIVEN)
    outcome = models.CharField(max_length=12)  # handled | abandoned
    waited_seconds = models.PositiveIntegerField(default=0)
    duration_seconds = models.PositiveIntegerField(default=0)
    hour = models.PositiveSmallIntegerField()
    weekday = models.PositiveSmallIntegerField()
    rating_offered = models.BooleanField(default=False)
    rating = models.CharField(max_length=8, blank=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.conversation_key} {self.outcome}"


class StatCount(models.Model):
    """Pre-aggregated counts: exports read only these, never chats."""

    period_kind = models.CharField(max_length=6)  # month | week | year
    period = models.CharField(max_length=8)  # SSB codes: 2026M03, 2026U11, 2026
    county = models.CharField(max_length=2)  # visitor's county; "" = not given
    dimension = models.CharField(max_length=30)
    value = models.CharField(max_length=60)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period_kind", "period", "county", "dimension", "value"],
                name="statcount_cell",
            )
        ]
        indexes = [models.Index(fields=["county", "period_kind", "period"], name="statcount_q")]

    def __str__(self) -> str:
        return f"{self.period} {self.county} {self.dimension}={self.value}: {self.count}"


class FillState(models.Model):
    """The watermark of ``reports_fill``: rows updated after it are not counted yet."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    watermark = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"filled up to {self.watermark}"
