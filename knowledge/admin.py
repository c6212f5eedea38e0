from django.contrib import admin

from knowledge.models import KnowledgeDocument, SuggestionCount


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin[KnowledgeDocument]):
    list_display = ["doc_id", "kind", "title", "language", "updated"]
    list_filter = ["kind", "language"]
    search_fields = ["doc_id", "title"]

    def has_add_permission(self, request: object) -> bool:
        return False  # documents come from knowledge_load, which also rebuilds the index


@admin.register(SuggestionCount)
class SuggestionCountAdmin(admin.ModelAdmin[SuggestionCount]):
    list_display = ["day", "doc_id", "shown", "sent"]
    list_filter = ["day"]
    search_fields = ["doc_id"]
