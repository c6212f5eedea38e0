from django.contrib import admin

from moderation.models import CrisisTerm


@admin.register(CrisisTerm)
class CrisisTermAdmin(admin.ModelAdmin[CrisisTerm]):
    list_display = ("pattern", "category", "language", "weak", "active", "updated_at")
    list_filter = ("category", "language", "weak", "active")
    search_fields = ("pattern",)
