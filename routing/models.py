from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Shift(models.Model):
    """A counsellor's started shift. Open while ``ended_at`` is empty."""

    counsellor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

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
