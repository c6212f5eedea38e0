from django.contrib import admin

from routing.models import (
    AuditEntry,
    Closure,
    CounsellorProfile,
    County,
    OpeningHours,
    Organisation,
    ScheduledShift,
    ServiceOverride,
    Shift,
    Transfer,
)


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin[Shift]):
    list_display = ("counsellor", "started_at", "ended_at", "last_assigned_at")


@admin.register(County)
class CountyAdmin(admin.ModelAdmin[County]):
    list_display = ("code", "name", "valid_from", "valid_to", "centre_url")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ("name", "kind", "county_code", "phone")


@admin.register(CounsellorProfile)
class CounsellorProfileAdmin(admin.ModelAdmin[CounsellorProfile]):
    list_display = ("user", "organisation", "languages")


@admin.register(OpeningHours)
class OpeningHoursAdmin(admin.ModelAdmin[OpeningHours]):
    list_display = ("weekday", "opens", "closes")


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin[Closure]):
    list_display = ("date", "reason")


@admin.register(ScheduledShift)
class ScheduledShiftAdmin(admin.ModelAdmin[ScheduledShift]):
    list_display = ("counsellor", "name", "starts_at", "ends_at")


@admin.register(ServiceOverride)
class ServiceOverrideAdmin(admin.ModelAdmin[ServiceOverride]):
    list_display = ("kind", "reason", "starts_at", "ends_at", "created_by", "cancelled_at")


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin[Transfer]):
    list_display = ("conversation", "from_counsellor", "to_counsellor", "created_at")
    readonly_fields = ("conversation", "from_counsellor", "to_counsellor", "note", "created_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin[AuditEntry]):
    list_display = ("at", "actor", "action", "target", "detail")
    list_filter = ("action",)

    def has_change_permission(self, request: object, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: AuditEntry | None = None) -> bool:
        return False

    def has_add_permission(self, request: object) -> bool:
        return False
