"""A tiny OpenID Connect provider for tests: discovery, authorize (signs in whoever it is
told to, at once), token (checks PKCE) and its keys; ES256 ID tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import ECKey


@dataclass
class FakeOidc:
    client_id: str = "umfax-test"
    email: str = "ann@example.com"
    email_verified: bool = True
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", parameters={"kid": "k1"}))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeOidc:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": fake.issuer,
                            "authorization_endpoint": fake.issuer + "/authorize",
                            "token_endpoint": fake.issuer + "/token",
                            "jwks_uri": fake.issuer + "/jwks",
                        }
                    )
                elif url.path == "/jwks":
                    self._json({"keys": [fake.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    assert query["client_id"] == fake.client_id and query["code_challenge_method"] == "S256"
                    code = secrets.token_urlsafe(8)
                    fake.codes[code] = query
                    self.send_response(302)
                    self.send_header(
                        "Location",
                        query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]}),
                    )
                    self.end_headers()
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                asked = fake.codes.pop(form.get("code", ""), None)
                challenge = (
                    base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
                    .rstrip(b"=")
                    .decode()
                )
                if asked is None or challenge != asked["code_challenge"]:
                    self.send_response(400)
                    self.end_headers()
                    return
                now = int(time.time())
                claims = {
                    "iss": fake.issuer,
                    "aud": fake.client_id,
                    "sub": "someone",
                    "iat": now,
                    "exp": now + 300,
                    "nonce": asked["nonce"],
                    "email": fake.email,
                    "email_verified": fake.email_verified,
                }
                token = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, fake.key)
                self._json(
                    {"access_token": "x", "token_type": "Bearer", "expires_in": 300, "id_token": token}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
