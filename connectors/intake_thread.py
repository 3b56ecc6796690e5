"""The thread every mailbox connector (IMAP, EWS, Graph) runs in: sessions until stopped,
a doubling backoff after an error, and a health snapshot for ``/healthz`` and
``umfax status``.

A connector subclasses :class:`IntakeThread` and writes :meth:`IntakeThread._session_cycle`
(one connected session, returning only when stopped or raising on an error) and
:meth:`IntakeThread._describe` (a plain, secret-free sentence for an error).  It updates
the health fields (``_connected``, ``_mode``, ``_last_poll``, ``_last_message``,
``_handled``, ``_failures``) under ``_lock``.  IMAP and EWS keep the messages that
could not be accepted in a :class:`RetrySchedule` (Graph keeps them in its saved delta
state).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from umfax.errors import StoreError, UmfaxError, describe_error, shorten
from umfax.mail.ports import IntakeResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IntakeHealth:
    """A snapshot of one intake connector."""

    connector: str
    running: bool
    connected: bool
    mode: str  # how new mail is noticed: "idle", "pull", "delta", "poll"; "" when not connected
    last_error: str
    last_error_at: datetime | None
    last_poll: datetime | None  # when the folder was last looked at for new messages
    last_message: datetime | None  # when a message was last handed over and settled
    handled: int  # messages settled (moved or flagged) since start
    failures: int  # accept() failures since start
    retrying: int  # messages waiting for another try
    uidvalidity: int | None = None  # IMAP: the watched folder's UIDVALIDITY

    @property
    def ok(self) -> bool:
        return self.running and self.connected

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        out: dict[str, Any] = {
            "connector": self.connector,
            "ok": self.ok,
            "running": self.running,
            "connected": self.connected,
            "mode": self.mode,
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "last_poll": iso(self.last_poll),
            "last_message": iso(self.last_message),
            "handled": self.handled,
            "failures": self.failures,
            "retrying": self.retrying,
        }
        if self.uidvalidity is not None:
            out["uidvalidity"] = self.uidvalidity
        return out


@dataclass(slots=True)
class _Retry:
    attempts: int
    due: float  # time.monotonic()


class RetrySchedule:
    """Messages that could not be accepted, each with the time of its next try, and a hold
    on every message after a store failure (they would all fail alike).  Keys are what the
    connector names a message by (an IMAP UID, an EWS item id).  Not locked itself: the
    connector calls it under its ``_lock`` where other threads may look (health)."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Retry] = {}
        self.hold_until = 0.0  # time.monotonic(): no message before this

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def keep_only(self, present: Collection[Hashable]) -> None:
        """Forget the messages no longer in the folder."""
        for gone in [k for k in self._entries if k not in present]:
            del self._entries[gone]

    def due(self, key: Hashable, now: float) -> bool:
        """Never failed, or its next try has come."""
        entry = self._entries.get(key)
        return entry is None or entry.due <= now

    def held(self, now: float) -> bool:
        return self.hold_until > now

    def failed(
        self, key: Hashable, delay_for: Callable[[int], float], store_failure: bool
    ) -> tuple[int, float]:
        """Schedule the next try of ``key`` after ``delay_for(attempts)`` seconds; a store
        failure holds every message as long.  Returns (attempts, delay)."""
        entry = self._entries.get(key)
        attempts = entry.attempts + 1 if entry else 1
        delay = delay_for(attempts)
        due = time.monotonic() + delay
        self._entries[key] = _Retry(attempts, due)
        if store_failure:
            self.hold_until = due
        return attempts, delay

    def next_due(self) -> float | None:
        """The monotonic time of the next try or of the end of the hold, if any."""
        dues = [r.due for r in self._entries.values()]
        if self.hold_until > time.monotonic():
            dues.append(self.hold_until)
        return min(dues) if dues else None


class IntakeThread:
    """One watched folder, one daemon thread: ``start()``, ``stop()``, ``health()``.

    ``backoff_start`` is the first delay after an error, doubling up to
    ``reconnect_max``; a session that worked for a while (``_cycle_ok`` set) starts the
    backoff over."""

    kind: ClassVar[str] = "mail"  # in the thread's name and the log messages

    def __init__(self, label: str, mailbox: str, *, backoff_start: float, reconnect_max: float) -> None:
        self.label = label
        self.mailbox = mailbox
        self._backoff_start = max(0.01, backoff_start)
        self._reconnect_max = max(reconnect_max, self._backoff_start)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards the health fields
        self._cycle_ok = False
        self._connected = False
        self._mode = ""
        self._last_error = ""
        self._last_error_at: datetime | None = None
        self._last_poll: datetime | None = None
        self._last_message: datetime | None = None
        self._handled = 0
        self._failures = 0

    # -- for subclasses ------------------------------------------------------------------------

    def _session_cycle(self) -> None:
        """Connect and serve until stopped (return) or an error (raise)."""
        raise NotImplementedError

    def _describe(self, exc: BaseException) -> str:
        """A plain sentence for an error of a session (never a secret), bounded."""
        return describe_error(exc)

    def _expected(self, exc: BaseException) -> bool:
        """Errors of the service or the network (logged without a traceback)."""
        return isinstance(exc, UmfaxError | OSError)

    def _retrying(self) -> int:
        return 0

    def _uidvalidity(self) -> int | None:
        return None

    def _unblock(self) -> None:
        """Called by ``stop()`` when the thread has not ended within a second."""

    # -- control -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        name = f"{self.kind}-intake:{self.label}"
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to end and wait for it (a running accept() is let finish)."""
        self._stop.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        deadline = time.monotonic() + timeout
        thread.join(min(timeout, 1.0))
        if thread.is_alive():
            self._unblock()
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            logger.warning(f"{self.kind} intake did not stop in time", extra={"connector": self.label})

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> IntakeHealth:
        with self._lock:
            return IntakeHealth(
                connector=self.label,
                running=self.running,
                connected=self._connected,
                mode=self._mode if self._connected else "",
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                last_poll=self._last_poll,
                last_message=self._last_message,
                handled=self._handled,
                failures=self._failures,
                retrying=self._retrying(),
                uidvalidity=self._uidvalidity(),
            )

    # -- the thread ----------------------------------------------------------------------------

    def run(self) -> None:
        """Sessions until :meth:`stop` (``start()`` runs this in a thread)."""
        delay = self._backoff_start
        logger.info(f"{self.kind} intake starting", extra={"connector": self.label, "mailbox": self.mailbox})
        while not self._stop.is_set():
            self._cycle_ok = False
            try:
                self._session_cycle()
            except Exception as exc:
                if self._stop.is_set():
                    break
                if self._cycle_ok:
                    delay = self._backoff_start
                error = self._describe(exc)
                self._note_error(error)
                logger.warning(
                    f"{self.kind} intake failed; reconnecting",
                    extra={"connector": self.label, "error": error, "retry_in": round(delay, 2)},
                    exc_info=not self._expected(exc),
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self._reconnect_max)
        logger.info(f"{self.kind} intake stopped", extra={"connector": self.label})

    def _retry_delay(self, attempts: int) -> float:
        """How long a message that failed ``attempts`` times waits before the next try."""
        return min(self._backoff_start * 2.0 ** (attempts - 1), self._reconnect_max)

    def _schedule_retry(self, retries: RetrySchedule, key: Hashable, exc: Exception) -> tuple[int, float]:
        """Count a message that could not be accepted and schedule its next try (a store
        failure holds every message as long).  Returns (attempts, delay)."""
        with self._lock:
            self._failures += 1
            return retries.failed(key, self._retry_delay, isinstance(exc, StoreError))

    def _handed_over(self, result: IntakeResult, settled: str, **fields: Any) -> None:
        """Count and log a message whose outcome is settled in the mailbox."""
        with self._lock:
            self._handled += 1
            self._last_message = datetime.now(UTC)
        logger.info(
            "mail handed over",
            extra={
                "connector": self.label,
                **fields,
                "outcome": result.outcome.value,
                "jobs": list(result.job_ids),
                "settled": settled,
            },
        )

    def _note_error(self, error: str) -> None:
        with self._lock:
            self._last_error = shorten(error)  # /healthz and ``umfax status`` show it
            self._last_error_at = datetime.now(UTC)
