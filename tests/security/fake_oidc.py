"""A local OpenID Connect provider for tests: authorisation code flow with PKCE (S256), ID
tokens signed RS256, a JWKS endpoint and userinfo. Loopback only; stops with the test."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class FakeProvider:
    client_id: str = "veivalg"
    client_secret: str = "s3cret"
    claims: dict[str, Any] = field(
        default_factory=lambda: {"sub": "abc-123", "given_name": "Nora", "roles": ["counsellor"]}
    )
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = "test-key"
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                          "n": _int(numbers.n), "e": _int(numbers.e)}]}  # fmt: skip

    def id_token(self, nonce: str, key: rsa.RSAPrivateKey | None = None) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        now = int(time.time())
        payload = {"iss": self.url, "aud": self.client_id, "iat": now, "exp": now + 300,
                   "nonce": nonce, **self.claims}  # fmt: skip
        signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
        signature = (key or self.key).sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{b64url(signature)}"

    def start(self) -> FakeProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                return

            def reply(
                self, status: int, body: dict[str, Any] | None = None, location: str = ""
            ) -> None:
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                data = json.dumps(body or {}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                provider.requests.append(url.path)
                if url.path == "/authorize":
                    if query.get("code_challenge_method") != "S256" or not query.get(
                        "code_challenge"
                    ):
                        self.reply(400, {"error": "pkce_required"})
                        return
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query
                    target = f"{query['redirect_uri']}?" + urllib.parse.urlencode(
                        {"code": code, "state": query["state"]}
                    )
                    self.reply(302, location=target)
                elif url.path == "/jwks":
                    self.reply(200, provider.jwks())
                elif url.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in provider.tokens:
                        self.reply(401, {"error": "invalid_token"})
                        return
                    self.reply(200, provider.tokens[token])
                else:
                    self.reply(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                provider.requests.append(self.path)
                if self.path != "/token":
                    self.reply(404)
                    return
                grant = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                if grant is None:
                    self.reply(400, {"error": "invalid_grant"})
                    return
                challenge = b64url(hashlib.sha256(verifier.encode()).digest())
                if challenge != grant["code_challenge"]:
                    self.reply(400, {"error": "invalid_grant", "error_description": "PKCE"})
                    return
                if (
                    form.get("client_id") != provider.client_id
                    or form.get("client_secret") != provider.client_secret
                ):
                    self.reply(401, {"error": "invalid_client"})
                    return
                access = secrets.token_urlsafe(16)
                provider.tokens[access] = dict(provider.claims)
                token = provider.id_token(grant.get("nonce", ""))
                self.reply(200, {"access_token": access, "token_type": "Bearer", "id_token": token})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
