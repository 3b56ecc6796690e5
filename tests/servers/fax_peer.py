"""What the spandsp fax machines of the tests share (AudioFax on G.711 RTP, T38Fax on
UDPTL): a 20 ms tick in a thread, phase E read into a :class:`FaxResult`, a ``linger``
after it for the last frames to drain, and the start/wait/close life cycle."""

from __future__ import annotations

import ctypes
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from modem.sim.spandsp_lib import T30Stats, completion_text

FRAME_SECONDS = 0.02  # one tick: 160 samples at 8 kHz


@dataclass(frozen=True)
class FaxResult:
    """How the call ended for this machine (spandsp's phase E)."""

    completion: int | None  # spandsp T30_ERR_*: 0 success; None: never reached phase E
    completion_text: str
    pages: int  # pages sent (sender) or received (receiver)
    bit_rate: int
    ecm: bool
    seconds: float  # from start to phase E

    @property
    def ok(self) -> bool:
        return self.completion == 0


class SpandspFaxPeer:
    """Base of the spandsp fax machines: the subclass sets ``lib``, ``sock``, ``_t30``,
    ``sending``, ``linger`` and ``_thread`` (target :meth:`_run`), and implements
    :meth:`_tick` (one 20 ms step) and :meth:`_free` (spandsp's state)."""

    lib: Any
    sock: socket.socket
    sending: bool
    linger: float
    _t30: Any
    _thread: threading.Thread

    def _peer_init(self) -> None:
        self._result: FaxResult | None = None
        self._phase_e_at: float | None = None
        self._started = 0.0
        self._done = threading.Event()
        self._stop = threading.Event()

    def _tick(self, seq: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _free(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _phase_e(self, user: Any, t30: Any, completion: int) -> None:
        stats = T30Stats()
        self.lib.t30_get_transfer_statistics(self._t30, ctypes.byref(stats))
        self._result = FaxResult(
            completion=completion,
            completion_text=completion_text(completion),
            pages=stats.pages_tx if self.sending else stats.pages_rx,
            bit_rate=stats.bit_rate,
            ecm=bool(stats.error_correcting_mode),
            seconds=time.monotonic() - self._started,
        )
        self._phase_e_at = time.monotonic()

    def _run(self) -> None:
        self._started = time.monotonic()
        next_tick = self._started
        seq = 0
        try:
            while not self._stop.is_set():
                self._tick(seq)
                seq += 1
                if self._phase_e_at is not None and time.monotonic() - self._phase_e_at >= self.linger:
                    break
                next_tick += FRAME_SECONDS
                time.sleep(max(0.0, next_tick - time.monotonic()))
        finally:
            self._done.set()

    def start(self) -> Self:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> FaxResult:
        """The result once the call ended (phase E plus ``linger``) or ``timeout`` passed
        (then ``completion`` is None unless phase E came)."""
        self._done.wait(timeout)
        return self.result()

    def result(self) -> FaxResult:
        if self._result is not None:
            return self._result
        return FaxResult(None, "no phase E", 0, 0, False, time.monotonic() - self._started)

    def close(self) -> None:
        """Stop the thread, free spandsp's state and close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._free()
        self.sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
