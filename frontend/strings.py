"""Translated strings that the pages' ES modules need, rendered into the page as JSON."""

from __future__ import annotations

from django.utils.translation import gettext as _


def _common() -> dict[str, str]:
    return {
        "system_assigned": _("%(name)s from the career guidance service has joined the chat."),
        "system_closed_by_visitor": _("The visitor ended the chat."),
        "system_closed_by_counsellor": _("The counsellor ended the chat."),
        "system_closed_by_system": _("The chat was ended."),
        "system_counsellor_lost": _(
            "The counsellor lost the connection. You are back at the front of the queue."
        ),
        "system_transferred": _("%(name)s has taken over the chat."),
        "system_transferred_to_queue": _(
            "The chat was passed on. You are at the front of the queue."
        ),
        "system_visitor_left": _("The visitor left before a counsellor was free."),
        "system_crisis_help": _(
            "If you are in danger or thinking of hurting yourself, get help now: call 113 "
            "(medical emergency), 116 123 (Mental Helse, open day and night) or 116 111 "
            "(Alarmtelefonen for children and young people). A counsellor will be with you "
            "as soon as possible."
        ),
        "system_closed_unserved": _(
            "The chat has closed for today before a counsellor was free. Please come back when "
            "we are open."
        ),
        "you": _("You"),
        "visitor": _("Visitor"),
        "counsellor": _("Counsellor"),
        "sending": _("Sending…"),
        "sent": _("Sent"),
        "delivered": _("Delivered"),
        "failed": _("Not sent yet. We will try again."),
        "typing_counsellor": _("The counsellor is writing…"),
        "typing_visitor": _("The visitor is writing…"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "connected": _("Connected."),
    }


def visitor_strings() -> dict[str, str]:
    return {
        **_common(),
        "queue_position": _("You are number %(position)s in the queue."),
        "queue_next": _("You are next in the queue. A counsellor will be with you soon."),
        "queue_wait": _("A counsellor will answer as soon as possible. Keep this page open."),
        "queue_wait_minutes": _("Expected wait: about %(minutes)s min."),
        "past_closing": _(
            "You may not reach a counsellor before the chat closes at %(time)s. You can keep "
            "waiting, or contact your county's career centre."
        ),
        "active": _("You are chatting with %(name)s."),
        "closed": _("The chat has ended. Thank you for talking to us."),
        "abandoned": _("You left the queue."),
        "rate_thanks": _("Thank you for your feedback!"),
        "confirm_close": _("Do you want to end the chat?"),
        "service_closed": _("The chat is closed right now."),
        "start_failed": _("We could not start the chat. Please try again in a moment."),
        "about_saved": _("Thank you! Your answers are saved."),
        "deleted": _("The conversation is deleted."),
        "about_later": _("Thank you! We save your answers when the chat starts."),
    }


def desk_strings() -> dict[str, str]:
    return {
        **_common(),
        "on_shift": _("You are on shift."),
        "off_shift": _("You are not on shift."),
        "queue_empty": _("Nobody is waiting."),
        "waiting_since": _("Waiting since %(time)s"),
        "take": _("Take this chat"),
        "language": _("Language: %(language)s"),
        "lang_nb": _("Bokmål"),
        "lang_nn": _("Nynorsk"),
        "lang_en": _("English"),
        "chat_with": _("Chat %(number)s"),
        "closed": _("The chat has ended."),
        "end_chat": _("End chat"),
        "send": _("Send"),
        "message_label": _("Message to the visitor"),
        "new_chat": _("New chat assigned."),
        "no_chats": _("You have no active chats. Take the next one from the queue."),
        "dismiss": _("Remove from desk"),
        "report_abuse": _("Report abuse"),
        "reported": _("Reported to the supervisor."),
        "profanity": _("contains swearing"),
        "crisis": _(
            "Crisis signal: the visitor may be in danger. The supervisor has been alerted."
        ),
        "transfer_to": _("Hand over to"),
        "transfer_queue": _("Back to the queue"),
        "transfer_note": _("Note for the next counsellor"),
        "transfer": _("Hand over"),
        "transferred_away": _("You handed over this chat."),
        "note_from": _("Note from %(name)s: %(note)s"),
        "county": _("County: %(county)s"),
        "requeued": _("back in the queue"),
        "status_connected": _("connected"),
        "status_grace": _("reconnecting"),
        "status_away": _("away"),
        "load": _("%(active)s of %(limit)s chats"),
        "colleagues": _("On shift"),
        "wrapup_legend": _("Topics of the conversation (required before you end it)"),
        "referral_label": _("Referred to (optional)"),
        "no_referral": _("No referral"),
        "wrapup_save": _("Save topics"),
        "wrapup_saved": _("Topics saved."),
        "wrapup_missing": _("Choose the topics before you end or remove the chat."),
        "supervisor_message": _("Message from the supervisor (%(sender)s): %(text)s"),
        "suggest_heading": _("Suggested resources"),
        "suggest_empty": _("Suggestions appear here as the visitor writes."),
        "suggest_none": _("No matching resources."),
        "suggest_search_label": _("Search the knowledge base"),
        "suggest_search": _("Search"),
        "suggest_results": _("Search results"),
        "suggest_send": _("Send link"),
        "suggest_send_label": _("Send link: %(title)s"),
        "suggest_sent": _("Link sent: %(title)s"),
        "kind_yrke": _("Occupation"),
        "kind_utdanning": _("Education"),
        "kind_tema": _("Theme"),
    }


def dashboard_strings() -> dict[str, str]:
    return {
        "open": _("Open now"),
        "closed": _("Closed now"),
        "reason_open": _("open"),
        "reason_outside_hours": _("outside opening hours"),
        "reason_holiday": _("closed day"),
        "reason_closed_early": _("closed early"),
        "reason_nobody_on_shift": _("nobody on shift"),
        "none": _("none"),
        "minutes": _("%(minutes)s min"),
        "seconds": _("%(seconds)s s"),
        "status_connected": _("connected"),
        "status_grace": _("reconnecting"),
        "status_away": _("away"),
        "alert_long_wait": _("Long wait: the first in line has waited %(minutes)s min."),
        "alert_queue_over_capacity": _(
            "%(waiting)s are waiting, more than the %(capacity)s places on shift."
        ),
        "alert_crisis": _("Crisis-flagged chat %(conversation)s."),
        "alert_abuse": _("Abuse-flagged chat %(conversation)s."),
        "alert_nobody_on_shift": _("Nobody is on shift during opening hours."),
        "alert_coverage_gaps": _("Gaps in the rota in the coming week: %(count)s."),
        "no_alerts": _("No alerts."),
        "move": _("Move"),
        "move_to": _("Move to"),
        "end": _("End chat"),
        "end_reason": _("Reason for ending"),
        "transcript": _("Open transcript"),
        "crisis": _("crisis"),
        "abuse": _("abuse"),
        "done": _("Done."),
        "no_chats": _("No chats in progress."),
        "nobody": _("Nobody is on shift."),
        "not_given": _("not given"),
        "gap": _("%(from)s to %(to)s"),
        "supervisor_message": _("Message from the supervisor (%(sender)s): %(text)s"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "block": _("Block visitor"),
        "block_reason": _("Reason for blocking"),
        "block_hours": _("For how many hours"),
        "unblock": _("Lift the block"),
    }
