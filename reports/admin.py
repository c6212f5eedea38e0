from django.contrib import admin

from reports.models import StatRow, Taxonomy, Topic


class TopicInline(admin.TabularInline[Topic, Taxonomy]):
    model = Topic
    fields = ("code", "parent_code", "kind", "label_nb", "label_nn", "label_en", "sort")
    extra = 0


@admin.register(Taxonomy)
class TaxonomyAdmin(admin.ModelAdmin[Taxonomy]):
    list_display = ("version", "is_current", "published_at")
    inlines = [TopicInline]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin[Topic]):
    """Labels may be renamed freely: statistics count codes."""

    list_display = ("code", "taxonomy", "kind", "label_nb", "label_nn", "label_en")
    list_filter = ("taxonomy", "kind")
    search_fields = ("code", "label_nb", "label_nn", "label_en")

    def get_readonly_fields(self, request: object, obj: Topic | None = None) -> tuple[str, ...]:
        return ("code", "taxonomy", "kind", "parent_code") if obj else ()


@admin.register(StatRow)
class StatRowAdmin(admin.ModelAdmin[StatRow]):
    list_display = ("queued_at", "visitor_county", "outcome", "rating")
    list_filter = ("outcome", "visitor_county")

    def has_change_permission(self, request: object, obj: StatRow | None = None) -> bool:
        return False

    def has_add_permission(self, request: object) -> bool:
        return False
