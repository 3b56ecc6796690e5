"""The HTTP side of the Graph connector: an app-only msal token, retries on 401/429/503,
Graph's error bodies, folders and upload sessions (:class:`GraphSession`)."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import requests

from umfax.config import GraphAccountConfig, secret
from umfax.errors import ConnectorError, UmfaxError, describe_error

logger = logging.getLogger("connectors.graph")  # one logger name for the whole connector

TIMEOUT = 30.0  # seconds per HTTP request
MAX_RETRY_AFTER = 120.0  # never wait longer than this for one Retry-After
UPLOAD_CHUNK = 10 * 320 * 1024  # upload session chunks: a multiple of 320 KiB (Graph's rule)
SIMPLE_ATTACHMENT = 5 * 512 * 1024  # larger attachments go through an upload session (base64 of
# this, 3.3 MB, keeps one POST under Graph's 4 MB request limit)
INLINE_BUDGET = 2 * 1024 * 1024  # attachments up to this total ride in the create request


class GraphError(ConnectorError):
    """Graph or the token endpoint answered with an error."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _odata_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}"
    if isinstance(error, str):
        return f"{error}: {str(body.get('error_description', ''))[:200]}"
    return response.text[:200]


class _Session(requests.Session):
    """A requests Session whose ``verify`` and timeout hold for every request, msal's too.

    requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify`` (psf/requests#3829),
    so a ``ca_file`` set on the session alone is ignored wherever that variable is set."""

    def __init__(self, verify: bool | str, timeout: float) -> None:
        super().__init__()
        self.verify = verify
        self._timeout = timeout

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


class GraphSession:
    """Authenticated Graph calls for one app registration: token (msal), 401, 429/503, TLS.

    One session serves any number of mailboxes; msal keeps the token until it is near its
    expiry.  Not thread-safe: one per thread."""

    def __init__(self, config: GraphAccountConfig, key: str, stop: threading.Event) -> None:
        self.config = config
        self._key = key
        self._stop = stop
        self._verify: bool | str = config.tls_verify
        if config.tls_verify and config.ca_file:
            self._verify = str(config.ca_file)
        self._http = _Session(self._verify, TIMEOUT)
        self._app: msal.ConfidentialClientApplication | None = None
        graph = urlsplit(config.graph_url)
        self._scope = f"{graph.scheme}://{graph.netloc}/.default"
        self.base = config.graph_url.rstrip("/")

    def user(self, mailbox: str) -> str:
        return f"{self.base}/users/{quote(mailbox)}"

    def close(self) -> None:
        self._http.close()

    def fetch_token(self, *, fresh: bool = False) -> str:
        """An access token (msal's cached one unless ``fresh``); raises :class:`GraphError`."""
        cfg = self.config
        where = f"{cfg.authority_host.rstrip('/')}/{cfg.tenant_id}"
        try:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    cfg.client_id,
                    client_credential=secret(cfg.client_secret_env, f"{self._key}.client_secret_env"),
                    authority=where,
                    instance_discovery=False,
                    http_client=self._http,
                )
            if fresh:
                self._app.remove_tokens_for_client()
            result = self._app.acquire_token_for_client(scopes=[self._scope])
        except UmfaxError:
            raise
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(_untrusted(where)) from exc
        except requests.RequestException as exc:
            raise ConnectorError(f"{urlsplit(where).netloc}: {exc.__class__.__name__}") from exc
        except ValueError as exc:  # msal: the tenant's OpenID configuration could not be read
            raise GraphError(
                f"Entra ID tenant {cfg.tenant_id} not found at {where} ({describe_error(exc)}): "
                "check tenant_id"
            ) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            error = result.get("error", "no token") if isinstance(result, dict) else "no token"
            description = str(result.get("error_description", ""))[:200] if isinstance(result, dict) else ""
            raise GraphError(
                f"token for client {cfg.client_id} in tenant {cfg.tenant_id} refused "
                f"({error}: {description}): check tenant_id, client_id and the secret in the "
                f"environment variable {cfg.client_secret_env}"
            )
        return token

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One Graph request: a new token once on 401, Retry-After honoured on 429/503."""
        token = self.fetch_token()
        renewed = False
        status = 0
        for _ in range(5):
            headers = {"Authorization": f"Bearer {token}"}
            response = self._send(method, url, headers=headers, **kwargs)
            if response.status_code == 401 and not renewed:
                renewed = True
                token = self.fetch_token(fresh=True)
                continue
            status = response.status_code
            if status in (429, 503):
                wait = _retry_after(response)
                logger.info("graph throttled", extra={"status": response.status_code, "retry_in": wait})
                if self._stop.wait(wait):
                    break
                continue
            if response.status_code >= 400:
                raise GraphError(
                    f"{method} {url.removeprefix(self.base)}: HTTP {response.status_code} "
                    f"{_odata_error(response)}",
                    response.status_code,
                )
            return response
        raise GraphError(f"{method} {url.removeprefix(self.base)}: still HTTP {status} after retries", status)

    def upload(self, url: str, content: bytes) -> None:
        """PUT ``content`` to an upload session's URL in chunks (the URL is the credential:
        no Authorization header)."""
        total = len(content)
        for first in range(0, total, UPLOAD_CHUNK):
            chunk = content[first : first + UPLOAD_CHUNK]
            headers = {"Content-Range": f"bytes {first}-{first + len(chunk) - 1}/{total}"}
            response = self._send("PUT", url, data=chunk, headers=headers)
            if response.status_code not in (200, 201, 202):
                raise GraphError(
                    f"attachment upload: HTTP {response.status_code} {_odata_error(response)}",
                    response.status_code,
                )

    def folder_id(self, mailbox: str, name: str, *, create: bool) -> str:
        """A well-known folder name ("inbox") or a top-level folder's display name."""
        user = self.user(mailbox)
        try:
            return str(self.call("GET", f"{user}/mailFolders/{quote(name)}").json()["id"])
        except GraphError as exc:
            if exc.status not in (400, 404):
                raise
        url: str | None = f"{user}/mailFolders?$top=100"
        while url:
            page = self.call("GET", url).json()
            for folder in page.get("value", []):
                if str(folder.get("displayName", "")).lower() == name.lower():
                    return str(folder["id"])
            url = page.get("@odata.nextLink")
        if not create:
            raise ConnectorError(f"mailbox {mailbox} has no folder {name!r}")
        try:
            created = self.call("POST", f"{user}/mailFolders", json={"displayName": name}).json()
        except GraphError as exc:
            if exc.status != 409:  # made by someone else meanwhile
                raise
            return self.folder_id(mailbox, name, create=False)
        logger.info("created folder", extra={"mailbox": mailbox, "folder": name})
        return str(created["id"])

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(_untrusted(url)) from exc
        except requests.RequestException as exc:
            raise ConnectorError(f"{urlsplit(url).netloc}: {exc.__class__.__name__}") from exc


def _untrusted(url: str) -> str:
    return f"TLS certificate of {urlsplit(url).netloc} not trusted; set ca_file to the CA that signed it"


def _retry_after(response: requests.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0
