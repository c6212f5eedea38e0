from django.contrib import admin

from routing.models import Shift


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin[Shift]):
    list_display = ("counsellor", "started_at", "ended_at")
