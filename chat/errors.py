"""Domain errors. Each has a stable ``code`` (clients and tests match on it) and a constant,
translatable message. Interfaces map them to an HTTP 4xx or a WebSocket ``error`` frame."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code: str = "error"
    message: str | Promise = _("Something went wrong. Please try again.")
    http_status: int = 400

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail


class ServiceClosed(DomainError):
    code = "service_closed"
    message = _("The chat is closed right now.")
    http_status = 409


class ConversationNotFound(DomainError):
    code = "no_conversation"
    message = _("We could not find your conversation. Start a new one.")
    http_status = 404


class NotYourConversation(DomainError):
    code = "not_your_conversation"
    message = _("That conversation is not yours.")
    http_status = 403


class ConversationClosed(DomainError):
    code = "conversation_closed"
    message = _("This conversation has ended.")
    http_status = 409


class EmptyMessage(DomainError):
    code = "empty_message"
    message = _("Write a message before you send it.")


class MessageTooLong(DomainError):
    code = "message_too_long"
    message = _("The message is too long. Split it into shorter messages.")


class InvalidClientId(DomainError):
    code = "invalid_client_id"
    message = _("Each message needs a client_id of 1 to 64 printable characters.")


class InvalidSequence(DomainError):
    code = "invalid_sequence"
    message = _("The sequence number is ahead of the conversation.")


class RatingNotOffered(DomainError):
    code = "rating_not_offered"
    message = _("You can rate the conversation when it has ended.")
    http_status = 409


class NotOnShift(DomainError):
    code = "not_on_shift"
    message = _("Start your shift before you take chats.")
    http_status = 409


class ShiftHasActiveChats(DomainError):
    code = "shift_has_active_chats"
    message = _("End or hand over your active chats before you end the shift.")
    http_status = 409


class AtCapacity(DomainError):
    code = "at_capacity"
    message = _("You already have as many chats as you can take.")
    http_status = 409


class QueueEmpty(DomainError):
    code = "queue_empty"
    message = _("Nobody is waiting right now.")
    http_status = 409


class AlreadyTaken(DomainError):
    code = "already_taken"
    message = _("Another counsellor has already taken that chat.")
    http_status = 409


class TransferTargetUnavailable(DomainError):
    code = "transfer_target_unavailable"
    message = _("That colleague is not on shift, not connected or has no free capacity.")
    http_status = 409


class Forbidden(DomainError):
    code = "forbidden"
    message = _("You do not have access to do that.")
    http_status = 403


class ReasonRequired(DomainError):
    code = "reason_required"
    message = _("Give a reason.")


class InvalidCounty(DomainError):
    code = "invalid_county"
    message = _("Unknown county.")


class WrapupRequired(DomainError):
    code = "wrapup_required"
    message = _("Choose at least one topic before you end the chat.")
    http_status = 409


class InvalidTopic(DomainError):
    code = "invalid_topic"
    message = _("Unknown topic or referral.")


class InvalidAttribute(DomainError):
    code = "invalid_attribute"
    message = _("Unknown answer.")


class VisitorBlocked(DomainError):
    code = "blocked"
    message = _("This chat has been blocked for a while because of how it was used.")
    http_status = 403


class UnknownDocument(DomainError):
    code = "unknown_document"
    message = _("That resource is no longer in the knowledge base.")
    http_status = 404
