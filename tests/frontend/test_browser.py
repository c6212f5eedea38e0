"""The pages in real headless Chromium (Debian's), against a real server process."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from chat.models import Conversation
from tests.browser import axe_violations, desk_on_shift, tab_to
from tests.conftest import make_staff
from tests.support import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_visitor_and_counsellor_chat_and_rate(
    live_server_proc: LiveServer, browser: Browser
) -> None:
    server = live_server_proc
    make_staff("kari", "counsellor", first_name="Kari")
    desk = desk_on_shift(browser, server, "kari")

    visitor = browser.new_context().new_page()
    visitor.goto(f"{server.url}/")
    expect(visitor.locator("html")).to_have_attribute("lang", "nb")
    expect(visitor.locator("#service-state [data-state=open]")).to_be_visible()
    assert axe_violations(visitor) == []

    # Keyboard only: Tab to the message field, type, Enter sends.
    tab_to(visitor, "message-input")
    visitor.keyboard.type("Hei! Jeg lurer på hvordan jeg blir elektriker.")
    visitor.keyboard.press("Enter")
    expect(visitor.locator("#new-chat")).to_be_hidden()
    expect(visitor.locator("#rating")).to_be_hidden()

    # The counsellor on shift with the desk open gets the chat automatically.
    chat = desk.locator("article[data-conversation]")
    expect(chat.locator(".vv-msg--visitor .vv-msg__body")).to_have_text(
        "Hei! Jeg lurer på hvordan jeg blir elektriker."
    )
    expect(visitor.locator("#chat")).to_have_attribute("data-status", "active")
    expect(visitor.locator(".vv-msg--system")).to_contain_text("Kari")

    visitor.locator("#message-input").press_sequentially("Hvor lang", delay=30)
    expect(chat.locator("[data-role=typing]")).not_to_be_empty()
    visitor.keyboard.type(" tid tar det?")
    visitor.keyboard.press("Enter")
    expect(chat.locator(".vv-msg--visitor .vv-msg__body").last).to_have_text(
        "Hvor lang tid tar det?"
    )

    reply = "Vanligvis fire år: to år i skole og to år som lærling."
    chat.locator("[data-role=input]").fill(reply)
    chat.locator("[data-role=input]").press("Enter")
    expect(visitor.locator(".vv-msg--counsellor .vv-msg__body").last).to_have_text(reply)
    expect(chat.locator(".vv-msg--own").last).to_have_attribute("data-state", "delivered")
    expect(visitor.locator(".vv-msg--own").last).to_have_attribute("data-state", "delivered")

    assert axe_violations(desk) == []
    assert axe_violations(visitor) == []

    visitor.click("#end-chat")
    expect(chat).to_have_attribute("data-status", "closed")
    expect(visitor.locator("#rating")).to_be_visible()
    expect(visitor.locator("#compose")).to_be_hidden()
    expect(chat.locator("[data-role=compose]")).to_be_hidden()
    visitor.click("[data-rating=up]")
    expect(visitor.locator("#rating")).to_be_hidden()
    stored = Conversation.objects.get()
    assert (stored.status, stored.closed_by, stored.rating) == ("closed", "visitor", "up")
    assert axe_violations(visitor) == []


def test_reload_and_server_restart_lose_nothing(
    live_server_proc: LiveServer, browser: Browser
) -> None:
    server = live_server_proc
    make_staff("kari", "counsellor", first_name="Kari")
    desk = desk_on_shift(browser, server, "kari")
    visitor_context = browser.new_context()
    visitor = visitor_context.new_page()
    visitor.goto(f"{server.url}/")
    visitor.fill("#message-input", "Første melding")
    visitor.press("#message-input", "Enter")
    chat = desk.locator("article[data-conversation]")
    expect(chat.locator(".vv-msg--visitor")).to_have_count(1)

    # The visitor closes the tab and comes back: the whole conversation is there.
    visitor.close()
    visitor = visitor_context.new_page()
    visitor.goto(f"{server.url}/")
    expect(visitor.locator(".vv-msg--own .vv-msg__body")).to_have_text(["Første melding"])

    # The server restarts; both sides reconnect by themselves and carry on.
    restarted = server.restart()
    assert restarted.port == server.port
    chat.locator("[data-role=input]").fill("Er du der fortsatt?")
    chat.locator("[data-role=input]").press("Enter")
    expect(visitor.locator(".vv-msg--counsellor .vv-msg__body")).to_have_text(
        ["Er du der fortsatt?"], timeout=20_000
    )
    visitor.fill("#message-input", "Ja!")
    visitor.press("#message-input", "Enter")
    expect(chat.locator(".vv-msg--visitor .vv-msg__body")).to_have_text(
        ["Første melding", "Ja!"], timeout=20_000
    )
    assert Conversation.objects.get().messages.count() == 4


def test_pages_in_nynorsk_and_english(live_server_proc: LiveServer, browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{live_server_proc.url}/")
    nb_heading = page.locator("h1").inner_text()
    page.click("button[value=nn]")
    expect(page.locator("html")).to_have_attribute("lang", "nn")
    nn_heading = page.locator("h1").inner_text()
    page.click("button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.locator("h1").inner_text() == "Chat with a career counsellor"
    assert len({nb_heading, nn_heading, "Chat with a career counsellor"}) == 3
    assert axe_violations(page) == []
    page.goto(f"{live_server_proc.url}/veileder/logg-inn/")
    assert axe_violations(page) == []
