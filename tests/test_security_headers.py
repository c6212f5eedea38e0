"""Hardening: `check --deploy` is clean with production settings; every page has a strict
Content-Security-Policy and no inline script."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db(transaction=True)


def test_check_deploy_is_clean_with_production_settings() -> None:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "veivalg.example",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("path", ["/", "/veileder/logg-inn/", "/tilgjengelighet/"])
def test_pages_have_a_strict_csp_and_no_inline_script(path: str) -> None:
    response = Client(HTTP_HOST="127.0.0.1").get(path)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    # A nonce appears only where the page loads its module script.
    assert re.search(r"script-src 'self'(?: 'nonce-[\w+/=-]+')?(?:;|$)", policy), policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
        assert "src=" in tag or 'type="application/json"' in tag, tag
