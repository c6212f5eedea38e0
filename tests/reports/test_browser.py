"""/statistikk/ in Chromium as a county statistician: accessible, and the CSV downloads."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from reports.demo import history_load
from reports.services import counts_fill
from routing.models import CounsellorProfile, Organisation
from tests.browser import axe_violations
from tests.conftest import make_staff
from tests.support import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_statistician_sees_own_county_and_downloads_csv(
    live_server_proc: LiveServer, browser: Browser
) -> None:
    history_load(days=60, seed=7)
    counts_fill(rebuild=True)
    organisation = Organisation.objects.create(
        name="Karrieresenteret i Trøndelag", kind="county_centre", county_code="50"
    )
    user = make_staff("per", "statistician")
    CounsellorProfile.objects.create(user=user, organisation=organisation)

    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(f"{live_server_proc.url}/veileder/logg-inn/?next=/statistikk/")
    page.fill("#id_username", "per")
    page.fill("#id_password", "test-pass-123")
    page.locator("main button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("Trøndelag")
    expect(page.locator("#county option")).to_have_count(1)  # own county only
    topics = page.locator("table[data-dimension=topic] tr[data-code=utdanning] td")
    expect(topics.first).not_to_be_empty()
    assert axe_violations(page) == []

    with page.expect_download() as download_info:
        page.click("#download-csv")
    download = download_info.value
    data = open(download.path(), "rb").read()  # noqa: SIM115
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0].split(";")
    assert header[:3] == ["tabell", "kode", "navn"]

    forbidden = page.goto(f"{live_server_proc.url}/statistikk/?county=03")
    assert forbidden is not None
    assert forbidden.status == 403
