"""OpenID Connect sign-in ([[console.oidc]]): the authorization code flow with PKCE.

authlib's OAuth2 client builds the provider's authorization URL and exchanges the code;
the ID token is checked with joserfc (authlib's JOSE library) against the provider's
published keys: signature, issuer, audience (our client id), expiry and our nonce.  The
address the provider vouches for (``email``, refused when ``email_verified`` is false)
is matched to a user's email.  Between leaving and coming back, the state, nonce, PKCE
verifier and the page to return to travel in a short-lived cookie sealed with the
server's sealing key.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from umfax.config import Config, OidcProviderConfig, secret
from umfax.errors import UmfaxError
from umfax.sealing import Sealer, SealError

STATE_COOKIE = "umfax_oidc"
STATE_LIFETIME = 600  # seconds to come back from the provider
METADATA_SECONDS = 3600.0
TIMEOUT = 10.0

_metadata: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class OidcError(UmfaxError):
    """Signing in with a provider failed (the message says why, for the person)."""


@dataclass(frozen=True, slots=True)
class Leaving:
    """Where to send the browser, and the sealed cookie to set meanwhile."""

    url: str
    cookie: str


def provider(config: Config, name: str) -> OidcProviderConfig | None:
    return next((p for p in config.console.oidc if p.name == name), None)


def metadata(issuer: str) -> dict[str, Any]:
    """The provider's discovery document, kept for an hour."""
    now = time.monotonic()
    with _lock:
        cached = _metadata.get(issuer)
        if cached is not None and now - cached[0] < METADATA_SECONDS:
            return cached[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        answer = requests.get(url, timeout=TIMEOUT)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError(f"the sign-in provider cannot be reached ({url}); try again later") from exc
    with _lock:
        _metadata[issuer] = (now, document)
    return document


def _client(config: Config, chosen: OidcProviderConfig, redirect_uri: str) -> OAuth2Session:
    key = f"console.oidc[{chosen.name}].client_secret_env"
    client_secret = secret(chosen.client_secret_env, key) if chosen.client_secret_env else None
    return OAuth2Session(
        chosen.client_id,
        client_secret,
        scope="openid email profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post" if client_secret else "none",
    )


def leave(config: Config, chosen: OidcProviderConfig, redirect_uri: str, next_path: str) -> Leaving:
    """The provider's authorization URL, and the sealed state cookie to set."""
    document = metadata(chosen.issuer)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    url, _ = _client(config, chosen, redirect_uri).create_authorization_url(
        document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    carried = {"p": chosen.name, "s": state, "n": nonce, "v": verifier, "next": next_path, "at": time.time()}
    return Leaving(url, Sealer(config).seal(json.dumps(carried)))


def come_back(
    config: Config, chosen: OidcProviderConfig, redirect_uri: str, cookie: str, code: str, state: str
) -> tuple[str, str]:
    """The verified email the provider vouches for, and the page to go to next."""
    try:
        carried = json.loads(Sealer(config).open(cookie)) if cookie else None
    except (SealError, ValueError):
        carried = None
    if (
        not carried
        or carried.get("p") != chosen.name
        or not secrets.compare_digest(str(carried.get("s", "")), state)
        or time.time() - float(carried.get("at", 0)) > STATE_LIFETIME
    ):
        raise OidcError("the sign-in took too long or was started elsewhere; please start again")
    document = metadata(chosen.issuer)
    try:
        token = _client(config, chosen, redirect_uri).fetch_token(
            document["token_endpoint"], code=code, code_verifier=carried["v"], grant_type="authorization_code"
        )
        keys = requests.get(document["jwks_uri"], timeout=TIMEOUT)
        keys.raise_for_status()
        key_set = KeySet.import_key_set(keys.json())
        decoded = jwt.decode(str(token["id_token"]), key_set)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": chosen.issuer},
            aud={"essential": True, "value": chosen.client_id},
            nonce={"essential": True, "value": carried["n"]},
            exp={"essential": True},
        ).validate(decoded.claims)
    except (requests.RequestException, JoseError, KeyError, ValueError) as exc:
        raise OidcError("the sign-in provider's answer could not be verified; please try again") from exc
    except Exception as exc:  # authlib's OAuth errors have no common root but Exception
        raise OidcError(f"the sign-in provider refused: {exc}") from exc
    claims = decoded.claims
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
        raise OidcError("the sign-in provider did not give a verified email address")
    return email, str(carried.get("next", "/"))
