"""Faxes from an Exchange Online mailbox through Graph (:class:`GraphIntake`): delta query,
fetch as MIME, hand to ``accept``, then move (see :mod:`connectors.graph`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

from connectors.exchange import Accept
from connectors.graph.session import GraphError, GraphSession
from connectors.intake_thread import IntakeThread
from umfax.config import GraphConnectorConfig
from umfax.errors import StoreError, UmfaxError, describe_error
from umfax.mail.ports import MailRef

logger = logging.getLogger("connectors.graph")  # one logger name for the whole connector

class PositionStore(Protocol):
    """Where a connector keeps its place (the store's connector state, handed in by ``umfax.composition``)."""

    def get(self, key: str) -> str: ...
    def put(self, key: str, value: str) -> None: ...
    def forget(self, key: str) -> None: ...


@dataclass(slots=True)
class _State:
    folder_ids: dict[str, str] = field(default_factory=dict)  # config folder name -> Graph id
    delta_link: str = ""
    saved_link: str = ""  # the delta link as last kept in the store
    position_key: str = ""
    pending: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (attempts, due)


class GraphIntake(IntakeThread):
    """One Graph mail folder watched by one thread: new messages go to ``accept``.

    ``start()``/``stop()``/``health()`` from :class:`IntakeThread`; ``check()`` gets a
    token and the folders once."""

    kind = "graph"

    def __init__(
        self,
        config: GraphConnectorConfig,
        accept: Accept,
        *,
        positions: PositionStore | None = None,
        backoff_start: float = 1.0,
    ) -> None:
        super().__init__(
            config.label,
            f"{config.mailbox.lower()}/{config.folder}",
            backoff_start=backoff_start,
            reconnect_max=config.reconnect_max,
        )
        self.config = config
        self._accept = accept
        self._positions = positions
        self._mode = "delta"
        self._pending = 0

    def _retrying(self) -> int:
        return self._pending

    def check(self) -> None:
        """Get a token and find (or create) the folders once; raises :class:`ConnectorError`."""
        session = self._open()
        try:
            self._folders(session, _State())
        finally:
            session.close()

    # -- the thread -------------------------------------------------------------------------

    def _session_cycle(self) -> None:
        session = self._open()
        try:
            state = _State()
            self._folders(session, state)
            with self._lock:
                self._connected = True
            while not self._stop.is_set():
                self._poll(session, state)
                self._cycle_ok = True
                self._stop.wait(max(0.05, self.config.poll_interval))
        finally:
            with self._lock:
                self._connected = False
            session.close()

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
        state.folder_ids[cfg.folder] = session.folder_id(cfg.mailbox, cfg.folder, create=False)
        for name in (cfg.processed_folder, cfg.refused_folder):
            state.folder_ids[name] = session.folder_id(cfg.mailbox, name, create=True)
        state.position_key = f"delta:{state.folder_ids[cfg.folder]}"
        state.delta_link = state.saved_link = self._load(state.position_key)

    def _load(self, key: str) -> str:
        if self._positions is None:
            return ""
        try:
            return self._positions.get(key)
        except UmfaxError as exc:  # only a shortcut: list the folder anew
            error = describe_error(exc)
            logger.warning("delta link not read", extra={"connector": self.label, "error": error})
            return ""

    def _save(self, state: _State) -> None:
        """Keep the delta link once nothing it covers waits for a retry (a restart from it
        would never list those messages again)."""
        if self._positions is None or state.pending or state.delta_link == state.saved_link:
            return
        try:
            self._positions.put(state.position_key, state.delta_link)
        except UmfaxError as exc:
            error = describe_error(exc)
            logger.warning("delta link not kept", extra={"connector": self.label, "error": error})
            return
        state.saved_link = state.delta_link

    # -- messages ---------------------------------------------------------------------------

    def _poll(self, session: GraphSession, state: _State) -> None:
        """Follow the delta query to its end; handle new messages and those due a retry."""
        folder = quote(state.folder_ids[self.config.folder])
        first = f"{session.user(self.config.mailbox)}/mailFolders/{folder}/messages/delta?$select=id"
        url = state.delta_link or first
        new: list[str] = []
        while True:
            try:
                page = session.call("GET", url).json()
            except GraphError as exc:
                if exc.status != 410 or url == first:
                    raise
                logger.info("delta link expired; listing the folder anew", extra={"connector": self.label})
                url, state.delta_link, new = first, "", []
                continue
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
        self._save(state)

    def _handle(self, session: GraphSession, state: _State, message_id: str) -> bool:
        """Fetch, accept, move one message; False when the store failed."""
        url = f"{session.user(self.config.mailbox)}/messages/{quote(message_id)}"
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
        target = self.config.refused_folder if result.refused else self.config.processed_folder
        try:
            session.call("POST", f"{url}/move", json={"destinationId": state.folder_ids[target]})
        except Exception:
            state.pending[message_id] = (0, time.monotonic() + self._backoff_start)  # accepted; move again
            raise
        self._handed_over(result, target)
        return True

    def _accept_failed(self, state: _State, message_id: str, exc: Exception) -> None:
        attempts = state.pending.get(message_id, (0, 0.0))[0] + 1
        delay = self._retry_delay(attempts)
        state.pending[message_id] = (attempts, time.monotonic() + delay)
        with self._lock:
            self._failures += 1
        error = self._describe(exc)
        self._note_error(f"message {message_id[:40]}…: {error}")
        logger.warning(
            "mail not accepted; left in the folder for another try",
            extra={"connector": self.label, "attempt": attempts, "retry_in": round(delay, 2), "error": error},
            exc_info=not isinstance(exc, UmfaxError),
        )
