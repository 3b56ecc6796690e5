"""Remote fax machines made of spandsp's T.38 terminal (libspandsp2, through ctypes).

A :class:`SpandspFax` on the simulated exchange is a third-party T.30 peer for any DTE
driving a :class:`~modem.sim.sim_modem.SimModem`: it answers and receives, or calls and
sends a TIFF, through a :class:`~modem.sim.t38_bridge.T38Bridge` (the conversion between
T.38 and line events) over :mod:`modem.sim.spandsp_lib` (the ctypes binding).

:data:`SPANDSP_REMOTES` are its remote kinds (``receiver``, ``sender``,
``drop_mid_page``) for :class:`~modem.sim.exchange.SimExchange`; the network builder
(:func:`modem.sim.network.build_exchange`) passes them in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modem.sim.endpoint import Call, Endpoint, Switchboard
from modem.sim.errors import SpandspUnavailable
from modem.sim.line import CallAnswered, CallCleared, CallOffered, LineEvent
from modem.sim.remotes import RemoteFactory
from modem.sim.spandsp_lib import (
    COMPRESSION_BITS,
    MODEM_BITS,
    SAMPLE_RATE,
    STEP_SAMPLES,
    capability_mask,
    completion_text,
    load_spandsp,
    spandsp_available,
)
from modem.sim.t38_bridge import T38Bridge

log = logging.getLogger(__name__)


@dataclass
class FaxSession:
    """One call a :class:`SpandspFax` took part in."""

    direction: str  # "rx" | "tx"
    number: str  # the other party's number (caller's for rx, dialled for tx)
    started: float  # simulated seconds
    ended: float = 0.0
    completion: int | None = None  # spandsp T30_ERR_* code; 0 is success, None: never ran
    completion_text: str = ""
    remote_ident: str = ""
    pages: int = 0  # pages transferred (received pages in the TIFF, or pages sent)
    bit_rate: int = 0
    ecm: bool = False
    page_results: list[tuple[int, int]] = field(default_factory=list)
    tiff: Path | None = None  # received pages (multi-page TIFF) for rx sessions
    dial_result: str = ""  # set when an outgoing call did not connect (BUSY...)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def ok(self) -> bool:
        return self.completion == 0


class SpandspFax(Endpoint):
    """A remote fax machine: spandsp's T.30 behind the simulated exchange.

    It answers incoming calls after ``answer_after`` simulated seconds and
    receives (pages kept in :attr:`sessions`); :meth:`send` makes it call a
    number and send a TIFF.  ``ecm`` enables error correction mode; ``modems``
    (of "v17", "v29", "v27") and ``compressions`` (of "mh", "mr", "mmr") are what
    its DIS offers and its DCS may choose.
    """

    kind = "receiver"

    def __init__(
        self,
        exchange: Switchboard,
        number: str,
        name: str,
        ecm: bool = False,
        ident: str | None = None,
        answer_after: float = 4.0,
        ring_timeout: float = 60.0,
        workdir: str | None = None,
        modems: tuple[str, ...] = ("v17", "v29", "v27"),
        compressions: tuple[str, ...] = ("mh", "mr", "mmr"),
    ) -> None:
        self._modem_mask = capability_mask(tuple(modems), MODEM_BITS, "modems")
        self._compression_mask = capability_mask(tuple(compressions), COMPRESSION_BITS, "compressions")
        super().__init__(exchange, number, name)
        load_spandsp()
        self.ecm = ecm
        self.ident = ident if ident is not None else number
        self.answer_after = answer_after
        self.ring_timeout = ring_timeout
        self._give_up_at: float | None = None
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"umfax-sim-{name}-"))
        self.sessions: list[FaxSession] = []
        self._inbox: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._bridge: T38Bridge | None = None
        self._session: FaxSession | None = None
        self._active: Call | None = None
        self._t0 = 0.0
        self._answer_at: float | None = None
        self._pending_tx: tuple[str, str] | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"spandsp-{name}", daemon=True)
        self._thread.start()

    # --- API ------------------------------------------------------------------------------

    def send(self, number: str, tiff: str | os.PathLike[str]) -> FaxSession:
        """Call ``number`` and send ``tiff``.  Returns the session (wait on ``.done``)."""
        sess = FaxSession("tx", number, self.clock.now())
        self._inbox.put(("send", (number, os.fspath(tiff), sess)))
        return sess

    def wait_session(self, timeout: float, index: int = -1) -> FaxSession | None:
        """Wait (wall seconds) for a session to end; the last one by default."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.sessions and len(self.sessions) > (index if index >= 0 else 0):
                s = self.sessions[index]
                if s.done.wait(max(0.0, end - time.monotonic())):
                    return s
            time.sleep(0.01)
        return None

    def deliver(self, call: Call, ev: LineEvent) -> None:
        self._inbox.put(("ev", (call, ev)))

    def close(self) -> None:
        if self._stop:
            return
        self._stop = True
        self._inbox.put(("stop", None))
        self._thread.join(timeout=5)
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("sim: spandsp remote crashed", extra={"remote": self.name})

    def _loop(self) -> None:
        clock = self.clock
        part = clock.participant(self.name)
        try:
            while not self._stop:
                now = clock.beat(part, active=self._bridge is not None)
                if self._bridge is not None:
                    timeout = clock.poll_interval(
                        max(0.0005, clock.wall(STEP_SAMPLES / SAMPLE_RATE)))
                elif self._answer_at is not None or self._give_up_at is not None:
                    due = min(t for t in (self._answer_at, self._give_up_at) if t is not None)
                    timeout = max(0.001, min(0.2, clock.wall(due - now)))
                else:
                    timeout = 0.2
                try:
                    items = [self._inbox.get(timeout=timeout)]
                    while True:
                        try:
                            items.append(self._inbox.get_nowait())
                        except queue.Empty:
                            break
                except queue.Empty:
                    items = []
                clock.beat(part)
                for tag, item in items:
                    if tag == "stop":
                        return
                    if tag == "send":
                        self._start_send(*item)
                    elif tag == "ev":
                        self._event(*item)
                now = clock.beat(part)
                if self._give_up_at is not None and now >= self._give_up_at:
                    self._give_up_at = None
                    self._no_answer()
                if self._answer_at is not None and now >= self._answer_at:
                    self._answer_at = None
                    self._answer()
                b = self._bridge
                if b is not None:
                    b.advance(now - self._t0)
                    self._flush()
                    if b.phase_e is not None:
                        self._finish(by_us=True)
        finally:
            clock.release(part)

    def _flush(self) -> None:
        b = self._bridge
        call = self._active
        if b is None:
            return
        evs = b.take_events()
        if call is not None and call.state == "connected":
            for ev in evs:
                self.exchange.relay(call, self, ev)

    def _start_send(self, number: str, tiff: str, sess: FaxSession) -> None:
        self.sessions.append(sess)
        if self._active is not None or self.call is not None:
            sess.dial_result = "BUSY"
            sess.done.set()
            return
        res = self.exchange.place_call(self, number)
        if isinstance(res, str):
            sess.dial_result = res
            sess.ended = self.clock.now()
            sess.done.set()
            return
        self._active = res
        self._session = sess
        self._pending_tx = (number, tiff)
        self._give_up_at = self.clock.now() + self.ring_timeout

    def _event(self, call: Call, ev: LineEvent) -> None:
        if isinstance(ev, CallOffered):
            if self._active is None and self._session is None:
                self._active = call
                self._answer_at = self.clock.now() + self.answer_after
            return
        if call is not self._active:
            return
        if isinstance(ev, CallAnswered):
            self._give_up_at = None
            assert self._pending_tx is not None
            _, tiff = self._pending_tx
            self._pending_tx = None
            self._start_bridge(calling=True, tx_file=tiff)
            return
        if isinstance(ev, CallCleared):
            self._answer_at = None
            self._give_up_at = None
            self._finish(by_us=False, reason=ev.reason)
            return
        if self._bridge is not None:
            self._bridge.advance(self.clock.now() - self._t0)
            self._bridge.feed(ev)
            self._flush()

    def _no_answer(self) -> None:
        call, sess = self._active, self._session
        if call is None or sess is None or self._bridge is not None:
            return
        self._pending_tx = None
        sess.dial_result = "NO ANSWER"
        self._finish(by_us=True, reason="no answer")

    def _answer(self) -> None:
        call = self._active
        if call is None:
            return
        sess = FaxSession("rx", call.caller.number, self.clock.now())
        sess.tiff = self.workdir / f"rx-{call.id:04d}.tif"
        self.sessions.append(sess)
        self._session = sess
        if not self.exchange.answer(call, self):
            self._finish(by_us=False, reason="cancelled")
            return
        self._start_bridge(calling=False, rx_file=str(sess.tiff))

    def _start_bridge(self, calling: bool, tx_file: str | None = None,
                      rx_file: str | None = None) -> None:
        self._t0 = self.clock.now()
        self._bridge = T38Bridge(calling, self.ident, self.ecm, tx_file=tx_file, rx_file=rx_file,
                                 supported_modems=self._modem_mask,
                                 compressions=self._compression_mask)
        log.info(
            "sim: spandsp remote in call",
            extra={"remote": self.name, "calling": calling, "ecm": self.ecm},
        )

    def _finish(self, by_us: bool, reason: str = "") -> None:
        b, sess, call = self._bridge, self._session, self._active
        self._bridge = None
        self._session = None
        self._active = None
        now = self.clock.now()
        if b is not None:
            if b.phase_e is None:
                b.terminate()
            st = b.stats()
            if sess is not None:
                sess.completion = b.phase_e
                sess.completion_text = (
                    completion_text(b.phase_e) if b.phase_e is not None else reason
                )
                sess.remote_ident = b.remote_ident()
                sess.bit_rate = st.bit_rate
                sess.ecm = bool(st.error_correcting_mode)
                sess.pages = st.pages_rx if sess.direction == "rx" else st.pages_tx
                sess.page_results = list(b.page_results)
            b.close()
        if sess is not None:
            if b is None and not sess.completion_text:
                sess.completion_text = reason or "not connected"
            sess.ended = now
            log.info(
                "sim: spandsp session ended",
                extra={"remote": self.name, "completion": sess.completion,
                       "text": sess.completion_text, "pages": sess.pages},
            )
            sess.done.set()
        if by_us and call is not None:
            self.exchange.hangup(call, self)


def tiff_pages(path: str | os.PathLike[str]) -> int:
    """Number of pages in a TIFF (0 if it does not exist)."""
    if not os.path.exists(path):
        return 0
    from PIL import Image

    with contextlib.suppress(Exception), Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))
    return 0



def _fax_remote(kind: str) -> RemoteFactory:
    """The factory of one spandsp remote kind: ``drop_mid_page`` drops the line after
    3000 page octets unless ``drop_after_page_bytes`` says otherwise."""

    def make(exchange: Switchboard, number: str, name: str, /, **options: Any) -> Endpoint:
        drop = options.pop("drop_after_page_bytes", 3000 if kind == "drop_mid_page" else None)
        ep = SpandspFax(exchange, number, name, **options)
        if drop is not None:
            ep.faults.drop_after_page_bytes = int(drop)
        ep.kind = kind
        return ep

    return make


SPANDSP_REMOTES: Mapping[str, RemoteFactory] = {
    kind: _fax_remote(kind) for kind in ("receiver", "sender", "drop_mid_page")
}

__all__ = [
    "SPANDSP_REMOTES",
    "FaxSession",
    "SpandspFax",
    "SpandspUnavailable",
    "T38Bridge",
    "completion_text",
    "load_spandsp",
    "spandsp_available",
    "tiff_pages",
]
