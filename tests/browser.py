"""Shared browser fixtures: Debian's Chromium driven by Playwright, axe-core from npm."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support import LiveServer

ROOT = Path(__file__).resolve().parents[1]
AXE_SOURCE = (ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js").read_text()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop in this thread; the tests' own ORM calls (and
    # pytest-django's flush) are plain synchronous code, so Django's async-safety guard is
    # lifted while this module's browser runs, and restored after.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE_SOURCE)
    result: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")),
            }));
        }""",
        WCAG_TAGS,
    )
    return result


def log_in(page: Page, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/veileder/")
    page.fill("#id_username", username)
    page.fill("#id_password", "test-pass-123")
    page.locator("main button[type=submit]").click()
    expect(page.locator("#shift-status")).not_to_be_empty()


def tab_to(page: Page, element_id: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key")


def desk_on_shift(browser: Browser, server: LiveServer, username: str) -> Page:
    """A counsellor's desk in its own browser context, logged in and on shift."""
    desk = browser.new_context().new_page()
    log_in(desk, server, username)
    desk.click("#shift-start")
    expect(desk.locator("#shift-end")).to_be_visible()
    return desk
