"""Fax over G.711 on ONE established call: our Class 1 driver and T.30 engine, unchanged,
on spandsp's T.31 soft modem whose line is the call's RTP (the way iaxmodem works, in
process).

Why this design: the modulation (V.21, V.27ter, V.29, V.17, their training, CED/CNG)
is not ours to write, and spandsp 0.0.6 exports its fax modems only partly: the
receive side of ``fax_modems_*`` is public, but the transmit side (choosing and
training a modem, TCF, HDLC transmit with flags) is static inside ``fax.c`` and
``t31.c``, and the state structure is private.  Running spandsp's modems directly under
our T.30 engine would mean re-creating most of ``t31.c`` in Python against private
structures.  spandsp's T.31 modem exports a complete, stable surface instead
(``t31_at_rx``, ``t31_rx``/``t31_tx`` audio, AT output and modem-control callbacks), and
the Class 1 driver that already runs real modems and iaxmodem (which is this same
spandsp T.31 modem behind a pty) drives it unchanged: our T.30 engine runs the call,
spandsp only modulates.  The DTE side is a pty, as iaxmodem's and the simulator's are,
so :class:`~modem.pump.ATPort`'s blocking writes and XON/XOFF handling are the ones
already proven there.  The cost is the AT hop through the pty inside the process, a
few hundred octets per T.30 frame: nothing beside 50 audio frames a second.

Usage, once SDP said audio (PCMU or PCMA) and the call is up::

    line = G711Line(sock, (far_host, far_port), AudioSettings(codec="PCMA"), stopped=gone.is_set)
    result = line.send("", pages, options, progress)      # or line.receive(call, ...)
    line.stats                                             # RTP and jitter figures of the call
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from modem.api import (
    CallResult,
    HangupCause,
    IncomingCall,
    PageImage,
    PageSink,
    ProgressCallback,
    ReceiveOptions,
    SendOptions,
)
from modem.class1 import Class1Driver
from modem.softmodem.pump import DEFAULT_AUDIO, Address, AudioSettings, AudioStats, SoftModemPump
from modem.softmodem.t31lib import SoftModemError

log = logging.getLogger(__name__)

#: spandsp's AT interpreter as our driver sets it up (no caller-ID command: the SIP
#: layer has the caller's identity already).
INIT_COMMANDS = ("ATE0V1Q0", "AT+FCLASS=1")


class G711Line:
    """Sends or receives one fax over the G.711 audio of an established call.

    ``sock`` is the call's bound UDP socket (not closed here), ``far`` where the far
    end's RTP goes (from its SDP); ``stopped`` says, thread-safely, that the call went
    away (BYE): the modem then hangs up and the driver ends the fax.  :meth:`send` and
    :meth:`receive` have :class:`~modem.api.FaxLineDriver`'s signatures; each is one
    call, and a line object serves one call.  :attr:`stats` holds the media figures
    of the call once it returned.
    """

    def __init__(self, sock: socket.socket, far: Address, settings: AudioSettings = DEFAULT_AUDIO, *,
                 stopped: Callable[[], bool] = lambda: False, name: str = "g711",
                 command_timeout: float = 5.0) -> None:
        self.sock = sock
        self.far = far
        self.settings = settings
        self.stopped = stopped
        self.name = name
        self.command_timeout = command_timeout
        self.stats: AudioStats | None = None
        self._driver: Class1Driver | None = None
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Stop a running send/receive from another thread (it ends with CANCELLED)."""
        with self._lock:
            if self._driver is not None:
                self._driver.cancel()

    def send(self, dial_string: str, pages: list[PageImage], options: SendOptions,
             progress: ProgressCallback) -> CallResult:
        """Send ``pages`` as the calling fax (CNG, then T.30 as the transmitter).
        ``dial_string`` is only handed to the modem's dial command: the call is up."""
        return self._run(lambda d: d.send(dial_string or "0", pages, options, progress))

    def receive(self, call: IncomingCall, options: ReceiveOptions, on_page: PageSink,
                progress: ProgressCallback) -> CallResult:
        """Answer as the called fax (CED, then T.30 as the receiver); each page goes to
        ``on_page`` as it arrives."""

        def answer(driver: Class1Driver) -> CallResult:
            status = driver.probe()  # echo off, verbose results: what wait_for_call's init makes
            if not status.ok:
                return CallResult(cause=HangupCause.MODEM_ERROR, message=f"soft modem: {status.detail}")
            return driver.receive(call, options, on_page, progress)

        return self._run(answer)

    def _run(self, call: Callable[[Class1Driver], CallResult]) -> CallResult:
        try:
            pump = SoftModemPump(self.sock, self.far, self.settings, stopped=self.stopped,
                                 on_gone=self.cancel, name=self.name)
        except SoftModemError as exc:
            return CallResult(cause=HangupCause.MODEM_ERROR, message=str(exc))
        pump.start()
        driver = Class1Driver(pump.device, init=INIT_COMMANDS, optional_init=(), dial_command="ATD",
                              command_timeout=self.command_timeout)
        with self._lock:
            self._driver = driver
        try:
            result = call(driver)
        finally:
            with self._lock:
                self._driver = None
            driver.close()
            self.stats = pump.close()
        if self.stats.ended_by and result.cause is not HangupCause.OK:
            gone = ("the far end hung up" if self.stats.ended_by == "stopped"
                    else f"no RTP from the far end for {self.settings.media_timeout:g} s")
            result.cause = HangupCause.LINE_DROPPED
            result.message = f"{gone} ({result.message})" if result.message else gone
        log.info("g711 fax call ended", extra={
            "line": self.name, "cause": str(result.cause), "pages": result.pages_done,
            "packets_in": self.stats.packets_in, "packets_out": self.stats.packets_out,
            "stale": self.stats.stale, "lost": self.stats.jitter.lost, "late": self.stats.jitter.late})
        return result


__all__ = ["AudioSettings", "AudioStats", "G711Line"]
