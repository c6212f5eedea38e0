"""Staff login: failed attempts lock a username for 15 minutes, TOTP for those who have it,
and OIDC (code flow with PKCE S256, RS256 ID tokens) against a local fake provider."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest
import requests
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from frontend.auth import _key
from moderation.ratelimit import reset_shared
from tests.conftest import make_staff
from tests.security.fake_oidc import FakeProvider

pytestmark = pytest.mark.django_db(transaction=True)
LOGIN = "/veileder/logg-inn/"


def log_in(client: Client, username: str, password: str, otp: str = "") -> int:
    response = client.post(LOGIN, {"username": username, "password": password, "otp_token": otp})
    return response.status_code  # 302 on success, 200 with errors


def test_five_failures_lock_the_username(counsellor: User) -> None:
    reset_shared(_key("kari"))
    client = Client(HTTP_HOST="127.0.0.1")
    for _ in range(5):
        assert log_in(client, "kari", "wrong") == 200
    assert log_in(client, "kari", "test-pass-123") == 200  # locked, even with the password
    response = client.post(LOGIN, {"username": "kari", "password": "test-pass-123"})
    assert "15" in response.content.decode()
    assert log_in(client, "ola-does-not-exist", "x") == 200  # other usernames are unaffected
    reset_shared(_key("kari"))
    assert log_in(client, "kari", "test-pass-123") == 302


def test_totp_is_required_for_those_who_set_it_up(counsellor: User) -> None:
    reset_shared(_key("kari"))
    device = TOTPDevice.objects.create(user=counsellor, name="telefon", confirmed=True)
    client = Client(HTTP_HOST="127.0.0.1")
    code = f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert log_in(client, "kari", "test-pass-123") == 200  # the password alone is not enough
    assert log_in(client, "kari", "test-pass-123", wrong) == 200
    # django-otp throttles a device after a wrong code (1 s, then doubling): wait it out.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    assert log_in(client, "kari", "test-pass-123", code) == 302
    assert client.get("/veileder/").status_code == 200
    plain = make_staff("ola", "counsellor")  # no device: password alone
    assert log_in(Client(HTTP_HOST="127.0.0.1"), plain.username, "test-pass-123") == 302


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    with override_settings(
        OIDC_ENABLED=True,
        AUTHENTICATION_BACKENDS=[
            "django.contrib.auth.backends.ModelBackend",
            "frontend.oidc.StaffOIDCBackend",
        ],
        OIDC_RP_CLIENT_ID=fake.client_id,
        OIDC_RP_CLIENT_SECRET=fake.client_secret,
        OIDC_OP_AUTHORIZATION_ENDPOINT=f"{fake.url}/authorize",
        OIDC_OP_TOKEN_ENDPOINT=f"{fake.url}/token",
        OIDC_OP_USER_ENDPOINT=f"{fake.url}/userinfo",
        OIDC_OP_JWKS_ENDPOINT=f"{fake.url}/jwks",
    ):
        yield fake
    fake.stop()


def oidc_round_trip(client: Client) -> tuple[str, dict[str, str]]:
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(start["Location"]).query))
    authorize = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert authorize.status_code == 302, authorize.text
    back = urllib.parse.urlparse(authorize.headers["Location"])
    return f"{back.path}?{back.query}", query


def test_oidc_login_with_pkce_and_rs256(provider: FakeProvider) -> None:
    client = Client(HTTP_HOST="127.0.0.1")
    callback, query = oidc_round_trip(client)
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) >= 43
    done = client.get(callback)
    assert done.status_code == 302
    assert "logg-inn" not in done["Location"]
    user = User.objects.get(username="oidc-abc-123")
    assert user.first_name == "Nora"
    assert list(user.groups.values_list("name", flat=True)) == ["counsellor"]
    assert not user.has_usable_password()
    assert client.get("/veileder/").status_code == 200
    assert "/token" in provider.requests
    assert "/jwks" in provider.requests  # the signature was checked against the provider's keys


def test_oidc_rejects_a_token_signed_by_someone_else(provider: FakeProvider) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    forger = rsa.generate_private_key(65537, 2048)
    real = provider.id_token
    provider.id_token = lambda nonce, key=None: real(nonce, forger)  # type: ignore[method-assign]
    client = Client(HTTP_HOST="127.0.0.1")
    callback, _ = oidc_round_trip(client)
    response = client.get(callback)
    assert response.status_code == 400  # "JWS token verification failed": refused outright
    assert not User.objects.filter(username="oidc-abc-123").exists()
    assert client.get("/veileder/").status_code == 302  # still not logged in


def test_oidc_roles_follow_the_provider(provider: FakeProvider) -> None:
    provider.claims = {"sub": "abc-123", "given_name": "Nora", "roles": ["statistician"]}
    client = Client(HTTP_HOST="127.0.0.1")
    callback, _ = oidc_round_trip(client)
    client.get(callback)
    user = User.objects.get(username="oidc-abc-123")
    assert list(user.groups.values_list("name", flat=True)) == ["statistician"]
    assert client.get("/veileder/").status_code == 403
