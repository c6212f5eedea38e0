from django.contrib import admin

from moderation.models import CrisisTerm, VisitorBlock


@admin.register(CrisisTerm)
class CrisisTermAdmin(admin.ModelAdmin[CrisisTerm]):
    list_display = ("pattern", "category", "language", "weak", "active", "updated_at")
    list_filter = ("category", "language", "weak", "active")
    search_fields = ("pattern",)


@admin.register(VisitorBlock)
class VisitorBlockAdmin(admin.ModelAdmin[VisitorBlock]):
    """Blocks are set from the dashboard; lift one here by setting "lifted at"."""

    list_display = ("created_at", "until", "reason", "created_by", "lifted_at")
    readonly_fields = ("token_hash", "created_at", "created_by", "reason", "until")
