from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CrisisTerm(models.Model):
    """One crisis signal, editable by staff in the admin (moderation/data/crisis_terms.json has
    the shipped list). Patterns match normalised text: see moderation/crisis.py."""

    class Category(models.TextChoices):
        SUICIDE = "suicide", _("Suicide")
        SELF_HARM = "self_harm", _("Self-harm")
        ABUSE_HOME = "abuse_home", _("Abuse at home")
        VIOLENCE = "violence", _("Violence")
        THREAT = "threat", _("Threat")

    pattern = models.CharField(max_length=500)
    category = models.CharField(max_length=20, choices=Category.choices)
    language = models.CharField(max_length=2, default="nb")
    weak = models.BooleanField(
        default=False,
        help_text=_(
            "Names a topic rather than a first-person statement: ignored when the "
            "message is about work or study in that field."
        ),
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.category}: {self.pattern}"


class VisitorBlock(models.Model):
    """A supervisor's block of one visitor token for a period (audited, undoable)."""

    token_hash = models.CharField(max_length=64, db_index=True)
    until = models.DateTimeField()
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        "auth.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"block until {self.until:%Y-%m-%d %H:%M}"
