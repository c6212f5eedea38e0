from django.contrib import admin

from chat.models import Conversation


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    """Metadata only: transcripts are not shown in the admin."""

    list_display = ("public_id", "status", "language", "counsellor", "queued_at", "closed_at")
    list_filter = ("status", "language")
    readonly_fields = [
        f.name for f in Conversation._meta.fields if f.name not in {"id", "visitor_token_hash"}
    ]
    exclude = ("visitor_token_hash",)
