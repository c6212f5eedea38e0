"""What the visitor sees of routing: the closed page, and a live place in the queue."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from chat.models import Conversation
from routing.models import County
from tests.browser import axe_violations, desk_on_shift
from tests.conftest import make_staff, set_hours
from tests.support import LiveServer, start_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_outside_opening_hours_the_visitor_sees_when_it_opens(
    live_server_proc: LiveServer, browser: Browser
) -> None:
    now = timezone.localtime()
    opens = (now + dt.timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    set_hours(*[(day, opens.time(), (opens + dt.timedelta(hours=1)).time()) for day in range(7)])
    County.objects.filter(code="50").update(centre_url="https://veivalg.example/karrieresenter/50")
    make_staff("kari", "counsellor")

    page = browser.new_context().new_page()
    page.goto(f"{live_server_proc.url}/")
    closed = page.locator("#service-state [data-state=closed]")
    expect(closed).to_have_attribute("data-reason", "outside_hours")
    expect(page.locator("#next-opening")).to_contain_text(opens.strftime("%H:%M"))
    expect(page.locator("#compose")).to_be_hidden()
    expect(page.locator(".vv-counties li")).to_have_count(15)
    expect(page.locator(".vv-counties a[href$='/karrieresenter/50']")).to_have_text("Trøndelag")
    assert axe_violations(page) == []


def test_queue_position_counts_down_as_chats_ahead_are_taken(browser: Browser) -> None:
    server = start_server(env={"VEIVALG_MAX_ACTIVE_CHATS": "1"})
    try:
        make_staff("kari", "counsellor", first_name="Kari")
        desk = desk_on_shift(browser, server, "kari")

        visitors = []
        for n in range(3):
            page = browser.new_context().new_page()
            page.goto(f"{server.url}/")
            if n == 2:
                page.select_option("#county", "46")
            page.fill("#message-input", f"Hei, jeg er besøkende {n + 1}")
            page.press("#message-input", "Enter")
            expect(page.locator("#chat")).to_have_attribute(
                "data-status", "active" if n == 0 else "waiting"
            )
            visitors.append(page)
        first, second, third = visitors
        expect(second.locator("#chat")).to_have_attribute("data-position", "1")
        expect(third.locator("#chat")).to_have_attribute("data-position", "2")
        expect(third.locator("#queue-status")).to_contain_text("2")
        expect(desk.locator("#queue-count")).to_have_text("2")
        assert axe_violations(third) == []

        chat = desk.locator("article[data-conversation]")
        chat.locator("[data-role=end]").click()  # not yet: the topics come first
        expect(desk.locator("#desk-notice")).not_to_be_empty()
        expect(first.locator("#chat")).to_have_attribute("data-status", "active")
        chat.locator("input[value=utdanning]").check()
        chat.locator("[data-role=wrapup-save]").click()
        expect(chat).to_have_attribute("data-wrapped", "true")
        chat.locator("[data-role=end]").click()
        expect(second.locator("#chat")).to_have_attribute("data-status", "active")
        expect(third.locator("#chat")).to_have_attribute("data-position", "1")
        expect(desk.locator("#queue-count")).to_have_text("1")
        assert Conversation.objects.get(status="waiting").visitor_county == "46"

        third.click("#end-chat")  # leaving the queue is recorded, not left behind
        expect(desk.locator("#queue-count")).to_have_text("0")
        left = Conversation.objects.get(visitor_county="46")
        assert (left.status, left.closed_by) == ("abandoned", "visitor")
        expect(first.locator("#rating")).to_be_visible()
    finally:
        server.stop()
