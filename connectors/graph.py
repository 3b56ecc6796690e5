"""Exchange Online through Microsoft Graph: faxes from a mailbox (:class:`GraphIntake`).

Same contract as the EWS connector (:mod:`connectors.exchange`): each new message of the
watched folder is fetched as MIME (``GET …/messages/{id}/$value``), handed to ``accept``
with its Graph id as position, and only once ``accept`` has returned is it moved
(``POST …/messages/{id}/move``): to ``processed_folder`` when jobs were committed, to
``refused_folder`` when the sender was refused or nothing could be faxed.  If ``accept``
raises, the message stays and is tried again after a backoff.  A crash between commit and
move is harmless: the delta link lives in memory only, so a restart lists the whole folder
again, the core answers ``DUPLICATE`` and the message is then moved.

New messages are found by a delta query on the folder (``…/mailFolders/{folder}/messages/
delta``), run every ``poll_interval`` from the last ``@odata.deltaLink``.  The token is
fetched app-only by the OAuth 2.0 client-credentials grant (a plain POST to
``{authority_host}/{tenant}/oauth2/v2.0/token``, RFC 6749 4.4); a 401 fetches a new token
once; 429 and 503 honour ``Retry-After``.  requests is blocking: one thread per connector.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from connectors.exchange import Accept, ExchangeHealth
from umfax.config import GraphConnectorConfig, secret
from umfax.errors import ConnectorError, StoreError, UmfaxError
from umfax.mail.intake import MailRef, Outcome

logger = logging.getLogger(__name__)

TIMEOUT = 30.0  # seconds per HTTP request
MAX_RETRY_AFTER = 120.0  # never wait longer than this for one Retry-After


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


class GraphSession:
    """Authenticated Graph calls for one app registration: token, 401, 429/503, TLS."""

    def __init__(self, config: GraphConnectorConfig, key: str, stop: threading.Event) -> None:
        self.config = config
        self._key = key
        self._stop = stop
        self._http = requests.Session()
        self._http.verify = str(config.ca_file) if config.tls_verify and config.ca_file else config.tls_verify
        self._token = ""
        self.base = config.graph_url.rstrip("/")
        self.user = f"{self.base}/users/{quote(config.mailbox)}"

    def close(self) -> None:
        self._http.close()

    def fetch_token(self) -> None:
        cfg = self.config
        graph = urlsplit(cfg.graph_url)
        data = {
            "grant_type": "client_credentials",
            "client_id": cfg.client_id,
            "client_secret": secret(cfg.client_secret_env, f"{self._key}.client_secret_env"),
            "scope": f"{graph.scheme}://{graph.netloc}/.default",
        }
        url = f"{cfg.authority_host.rstrip('/')}/{quote(cfg.tenant_id)}/oauth2/v2.0/token"
        response = self._send("POST", url, data=data)
        if response.status_code != 200:
            raise GraphError(
                f"token for client {cfg.client_id} in tenant {cfg.tenant_id} refused "
                f"(HTTP {response.status_code}, {_odata_error(response)}): check tenant_id, client_id "
                f"and the secret in the environment variable {cfg.client_secret_env}",
                response.status_code,
            )
        token = response.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise GraphError(f"the token endpoint {url} returned no access_token")
        self._token = token

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One Graph request: a new token once on 401, Retry-After honoured on 429/503."""
        if not self._token:
            self.fetch_token()
        renewed = False
        status = 0
        for _ in range(5):
            headers = {"Authorization": f"Bearer {self._token}"}
            response = self._send(method, url, headers=headers, **kwargs)
            if response.status_code == 401 and not renewed:
                renewed = True
                self.fetch_token()
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

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._http.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(
                f"TLS certificate of {urlsplit(url).netloc} not trusted; set ca_file to the CA that signed it"
            ) from exc
        except requests.RequestException as exc:
            raise ConnectorError(f"{urlsplit(url).netloc}: {exc.__class__.__name__}") from exc


def _retry_after(response: requests.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0


@dataclass(slots=True)
class _State:
    folder_ids: dict[str, str] = field(default_factory=dict)  # config folder name -> Graph id
    delta_link: str = ""
    pending: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (attempts, due)


class GraphIntake:
    """One Graph mail folder watched by one thread: new messages go to ``accept``.

    ``start()``/``stop()``/``health()``/``check()`` as :class:`connectors.exchange.ExchangeIntake`.
    """

    def __init__(self, config: GraphConnectorConfig, accept: Accept, *, backoff_start: float = 1.0) -> None:
        self.config = config
        self.label = config.label
        self.mailbox = f"{config.mailbox.lower()}/{config.folder}"
        self._accept = accept
        self._backoff_start = max(0.01, backoff_start)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connected = False
        self._pending = 0
        self._last_error = ""
        self._last_error_at: datetime | None = None
        self._last_poll: datetime | None = None
        self._last_message: datetime | None = None
        self._handled = 0
        self._failures = 0

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"graph-intake:{self.label}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("graph intake did not stop in time", extra={"connector": self.label})

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> ExchangeHealth:
        with self._lock:
            return ExchangeHealth(
                connector=self.label,
                running=self.running,
                connected=self._connected,
                mode="delta" if self._connected else "",
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                last_poll=self._last_poll,
                last_message=self._last_message,
                handled=self._handled,
                failures=self._failures,
                retrying=self._pending,
            )

    def check(self) -> None:
        """Get a token and find (or create) the folders once; raises :class:`ConnectorError`."""
        session = self._open()
        try:
            self._folders(session, _State())
        finally:
            session.close()

    # -- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        delay = self._backoff_start
        ceiling = max(self.config.reconnect_max, self._backoff_start)
        logger.info("graph intake starting", extra={"connector": self.label, "mailbox": self.mailbox})
        while not self._stop.is_set():
            session: GraphSession | None = None
            try:
                session = self._open()
                state = _State()
                self._folders(session, state)
                with self._lock:
                    self._connected = True
                while not self._stop.is_set():
                    self._poll(session, state)
                    delay = self._backoff_start
                    self._stop.wait(max(0.05, self.config.poll_interval))
            except Exception as exc:
                if self._stop.is_set():
                    break
                error = str(exc) if isinstance(exc, UmfaxError) else f"{exc.__class__.__name__}: {exc}"
                self._note_error(error)
                logger.warning(
                    "graph intake failed; reconnecting",
                    extra={"connector": self.label, "error": error, "retry_in": round(delay, 2)},
                    exc_info=not isinstance(exc, UmfaxError),
                )
                self._stop.wait(delay)
                delay = min(delay * 2, ceiling)
            finally:
                with self._lock:
                    self._connected = False
                if session is not None:
                    session.close()
        logger.info("graph intake stopped", extra={"connector": self.label})

    def _open(self) -> GraphSession:
        session = GraphSession(self.config, f"connectors[{self.label}]", self._stop)
        try:
            session.fetch_token()
        except BaseException:
            session.close()
            raise
        return session

    # -- folders ----------------------------------------------------------------------------

    def _folders(self, session: GraphSession, state: _State) -> None:
        cfg = self.config
        state.folder_ids[cfg.folder] = self._folder_id(session, cfg.folder, create=False)
        for name in (cfg.processed_folder, cfg.refused_folder):
            state.folder_ids[name] = self._folder_id(session, name, create=True)

    def _folder_id(self, session: GraphSession, name: str, *, create: bool) -> str:
        """A well-known folder name ("inbox") or a top-level folder's display name."""
        try:
            return str(session.call("GET", f"{session.user}/mailFolders/{quote(name)}").json()["id"])
        except GraphError as exc:
            if exc.status not in (400, 404):
                raise
        url: str | None = f"{session.user}/mailFolders?$top=100"
        while url:
            page = session.call("GET", url).json()
            for folder in page.get("value", []):
                if str(folder.get("displayName", "")).lower() == name.lower():
                    return str(folder["id"])
            url = page.get("@odata.nextLink")
        if not create:
            raise ConnectorError(f"mailbox {self.config.mailbox} has no folder {name!r}")
        created = session.call("POST", f"{session.user}/mailFolders", json={"displayName": name}).json()
        logger.info("created folder", extra={"mailbox": self.config.mailbox, "folder": name})
        return str(created["id"])

    # -- messages ---------------------------------------------------------------------------

    def _poll(self, session: GraphSession, state: _State) -> None:
        """Follow the delta query to its end; handle new messages and those due a retry."""
        folder = quote(state.folder_ids[self.config.folder])
        url = state.delta_link or f"{session.user}/mailFolders/{folder}/messages/delta?$select=id"
        new: list[str] = []
        while True:
            page = session.call("GET", url).json()
            for message in page.get("value", []):
                if "@removed" in message:
                    state.pending.pop(str(message.get("id")), None)
                elif message.get("id"):
                    new.append(str(message["id"]))
            if page.get("@odata.nextLink"):
                url = page["@odata.nextLink"]
                continue
            state.delta_link = page.get("@odata.deltaLink", "")
            break
        with self._lock:
            self._last_poll = datetime.now(UTC)
        now = time.monotonic()
        due = [i for i in new if i not in state.pending]
        due += [i for i, (_, at) in state.pending.items() if at <= now]
        for message_id in due:
            if self._stop.is_set():
                return
            if not self._handle(session, state, message_id):
                break  # the store is down: every message would fail alike
        with self._lock:
            self._pending = len(state.pending)

    def _handle(self, session: GraphSession, state: _State, message_id: str) -> bool:
        """Fetch, accept, move one message; False when the store failed."""
        url = f"{session.user}/messages/{quote(message_id)}"
        try:
            raw = session.call("GET", f"{url}/$value").content
        except GraphError as exc:
            if exc.status == 404:  # moved or deleted meanwhile
                state.pending.pop(message_id, None)
                return True
            raise
        ref = MailRef(connector=self.label, mailbox=self.mailbox, item_id=message_id)
        try:
            result = self._accept(raw, ref)
        except Exception as exc:
            self._accept_failed(state, message_id, exc)
            return not isinstance(exc, StoreError)
        state.pending.pop(message_id, None)
        refused = result.outcome in (Outcome.REFUSED, Outcome.INVALID) or (
            result.outcome == Outcome.DUPLICATE and not result.job_ids
        )
        target = self.config.refused_folder if refused else self.config.processed_folder
        try:
            session.call("POST", f"{url}/move", json={"destinationId": state.folder_ids[target]})
        except Exception:
            state.pending[message_id] = (0, time.monotonic() + self._backoff_start)  # accepted; move again
            raise
        with self._lock:
            self._handled += 1
            self._last_message = datetime.now(UTC)
        logger.info(
            "mail handed over",
            extra={
                "connector": self.label,
                "outcome": result.outcome.value,
                "jobs": list(result.job_ids),
                "settled": target,
            },
        )
        return True

    def _accept_failed(self, state: _State, message_id: str, exc: Exception) -> None:
        ceiling = max(self.config.reconnect_max, self._backoff_start)
        attempts = state.pending.get(message_id, (0, 0.0))[0] + 1
        delay = min(self._backoff_start * 2 ** (attempts - 1), ceiling)
        state.pending[message_id] = (attempts, time.monotonic() + delay)
        with self._lock:
            self._failures += 1
        error = str(exc) if isinstance(exc, UmfaxError) else f"{exc.__class__.__name__}: {exc}"
        self._note_error(f"message {message_id[:40]}…: {error}")
        logger.warning(
            "mail not accepted; left in the folder for another try",
            extra={"connector": self.label, "attempt": attempts, "retry_in": round(delay, 2), "error": error},
            exc_info=not isinstance(exc, UmfaxError),
        )

    def _note_error(self, error: str) -> None:
        with self._lock:
            self._last_error = error
            self._last_error_at = datetime.now(UTC)
