"""The suggestions panel in real Chromium: the visitor asks about becoming an electrician, the
counsellor sees the occupation and the programme, sends one, and the visitor gets the link."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect

from knowledge import facade
from knowledge.models import SuggestionCount
from tests.browser import axe_violations, desk_on_shift, tab_to
from tests.conftest import make_staff
from tests.support import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_electrician_suggestions_sent_as_a_link(
    knowledge_index: facade.LoadResult, live_server_proc: LiveServer, browser: Browser
) -> None:
    server = live_server_proc
    make_staff("kari", "counsellor", first_name="Kari")
    desk = desk_on_shift(browser, server, "kari")
    visitor = browser.new_context().new_page()
    visitor.goto(f"{server.url}/")
    visitor.fill("#message-input", "Hei! Jeg har lyst til å bli elektriker. Hvor begynner jeg?")
    visitor.press("#message-input", "Enter")

    chat = desk.locator("article[data-conversation]")
    panel = chat.locator("[data-role=suggest]")
    items = panel.locator(".vv-suggest__item")
    expect(items.first).to_be_visible(timeout=20_000)
    expect(panel.locator("[data-id='yrke/elektriker']")).to_be_visible()
    expect(panel.locator("[data-id='utdanning/vg1-elektro-og-datateknologi']")).to_be_visible()
    expect(panel.locator("[data-id='yrke/elektriker'] .vv-suggest__kind")).to_have_text("Yrke")
    assert axe_violations(desk) == []

    # Keyboard only: Tab to the send button of the occupation and press Enter.
    button = panel.locator("[data-id='yrke/elektriker'] button")
    expect(button).to_have_attribute("aria-label", "Send lenke: Elektriker")
    button.focus()
    desk.keyboard.press("Enter")
    link = visitor.locator(".vv-msg--counsellor .vv-msg__body a")
    expect(link).to_have_attribute("href", "https://veivalg.example/yrke/elektriker")
    expect(link).to_have_text("https://veivalg.example/yrke/elektriker")
    expect(visitor.locator(".vv-msg--counsellor .vv-msg__body")).to_contain_text("Elektriker:")
    assert axe_violations(visitor) == []

    # The counsellor's own search replaces the list until the box is cleared.
    tab_to(desk, chat.locator("[data-role=suggest-q]").get_attribute("id") or "")
    desk.keyboard.type("lærlingplass")
    desk.keyboard.press("Enter")
    expect(panel.locator("[data-role=suggest-state]")).to_have_text("Søkeresultater")
    expect(items.first).to_be_visible()
    counted = SuggestionCount.objects.filter(doc_id="yrke/elektriker", sent=1)
    for _ in range(50):  # written on a background thread
        if counted.exists():
            break
        time.sleep(0.1)
    assert counted.count() == 1
