"""Is a visitor token blocked right now? (Read by the chat before it stores anything.)"""

from __future__ import annotations

from django.utils import timezone

from moderation.models import VisitorBlock


def is_blocked(token_hash: str) -> bool:
    # chat.services._lock_for_send asks the same in SQL: keep the two in step.
    return VisitorBlock.objects.filter(
        token_hash=token_hash, until__gt=timezone.now(), lifted_at__isnull=True
    ).exists()
