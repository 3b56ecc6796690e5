"""The soft modem's thread: spandsp's T.31 modem between a pty (its DTE side, where our
:class:`~modem.class1.Class1Driver` talks AT as to any serial modem) and an RTP socket
(its line side, G.711 in 20 ms packets) for one established call.

The thread owns the spandsp state: every ``t31_*`` call happens here.  It waits on the
pty and the socket until the next 20 ms tick; octets from the DTE go to the modem at
once (so AT turnarounds do not wait for a tick), received RTP goes into the fixed
jitter buffer (:class:`modem.rtp.JitterBuffer`), and each tick plays one frame into the
modem (a lost one is concealed with ``t31_rx_fillin``) and sends one frame of its audio.

The pty behaves like iaxmodem's (which runs the same spandsp modem): the modem's
clear-to-send becomes XOFF/XON octets to the DTE, and while it is off the pump stops
reading the pty, so a DTE that ignores XOFF blocks on a full pty instead of
overflowing the modem's 4 kB transmit buffer.  The modem's "dial" and "answer" are
answered at once: the call already exists (SIP set it up); a far end that goes away
(``stopped()``, or no RTP for ``media_timeout`` s) is a hang-up the DTE hears as
NO CARRIER.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field

from modem import g711, rtp
from modem.errors import ModemError
from modem.softmodem.t31lib import CallEvent, ControlOp, SpandspT31
from modem.udp import discard_backlog

log = logging.getLogger(__name__)

Address = tuple[str, int]
TICK = rtp.FRAME_SAMPLES / rtp.SAMPLE_RATE  # 20 ms
FEED_CHUNK = 256  # DTE octets given to the modem at a time (it may say XOFF in between)
READ_LIMIT = 4096
XON, XOFF = b"\x11", b"\x13"
MAX_DATAGRAM = 2048
_SILENCE = bytes(rtp.FRAME_SAMPLES * 2)
#: How far (seconds) a starved pump catches up by running its missed ticks at once; a
#: longer stall is skipped (:meth:`SoftModemPump._skip`).  Either way the call stays on
#: real time: a pump that just dropped the missed ticks sent the rest of the call that
#: much behind in RTP time, and a far end's fixed playout buffer then drops every later
#: packet as late (found by bench/g711.py's ramp: a page decode in each receiving
#: channel starved every pump for ~220 ms at once, and no far end heard our MCF).
MAX_CATCH_UP = 1.0


@dataclass(frozen=True, slots=True)
class AudioSettings:
    """The G.711 media of one call."""

    codec: g711.Law = "PCMU"  # what we send (both laws are understood on receipt)
    jitter: float = 0.08  # seconds of fixed playout delay (rounded to 20 ms frames)
    media_timeout: float = 30.0  # no RTP for this long: the far end is gone, hang up
    strict_source: bool = True  # drop RTP from any address but the far end's


DEFAULT_AUDIO = AudioSettings()


@dataclass(slots=True)
class AudioStats:
    """What crossed the socket during one call."""

    packets_in: int = 0
    packets_out: int = 0
    foreign: int = 0  # packets from an address other than the far end's (dropped)
    malformed: int = 0  # datagrams that were not RTP (or were RTCP)
    ended_by: str = ""  # "" (the DTE hung up), "stopped" (the call went away) or "silent"
    cpu_seconds: float = 0.0  # CPU time of the pump thread (spandsp's modem, RTP, the pty)
    stale: int = 0  # packets queued on the socket before the pump started (dropped unheard)
    skipped: int = 0  # 20 ms ticks skipped after the pump was starved for over MAX_CATCH_UP
    jitter: rtp.JitterStats = field(default_factory=rtp.JitterStats)


class SoftModemPump:
    """spandsp T.31 on a pty and an RTP socket, run by a thread from :meth:`start` to
    :meth:`close`.  :attr:`device` is the pty to open as the modem's serial port.

    ``sock`` (bound, owned by the caller: not closed here, but left non-blocking) carries
    RTP to and from ``far``; ``stopped`` is asked every tick, from this thread, whether
    the call went away (it must be thread-safe, e.g. an ``Event.is_set``); ``on_gone`` is
    called once, from this thread, when the call went away or fell silent (the line
    cancels its driver there: spandsp tells only a DTE that waits for the line about a
    hang-up).
    """

    def __init__(self, sock: socket.socket, far: Address, settings: AudioSettings = DEFAULT_AUDIO, *,
                 stopped: Callable[[], bool] = lambda: False, on_gone: Callable[[], None] = lambda: None,
                 name: str = "g711") -> None:
        self.sock = sock
        self.far = (far[0], int(far[1]))
        self.settings = settings
        self.stopped = stopped
        self.on_gone = on_gone
        self.name = name
        self.stats = AudioStats()
        self.modem = SpandspT31()
        decoders = {pt: g711.decoder(law) for pt, law in g711.LAWS.items()}
        self.jitter = rtp.JitterBuffer.for_depth(decoders, settings.jitter)
        self.stats.jitter = self.jitter.stats
        self.sender = rtp.RtpSender(g711.PAYLOAD_TYPES[settings.codec], secrets.randbits(32),
                                    sequence=secrets.randbits(16), timestamp=secrets.randbits(32))
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.device = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._from_dte = bytearray()
        self._to_dte = bytearray()
        self._holding = False  # the modem said XOFF (clear-to-send off)
        self._pending_event: CallEvent | None = None
        self._hung_up = False  # the call ended on the line side (told to the modem once)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"softmodem-{name}", daemon=True)
        self._sock_fd = -1
        self.dialled: str | None = None
        self.answered = False

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> SoftModemPump:
        self.stats.stale = discard_backlog(self.sock)
        self.sock.setblocking(False)
        self._sock_fd = self.sock.fileno()
        self._thread.start()
        return self

    def close(self) -> AudioStats:
        """Stop the thread and free the modem and the pty; the stats of the call."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.modem.close()
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._error is not None:
            log.error("soft modem pump failed", extra={"line": self.name, "error": repr(self._error)})
        return self.stats

    def __enter__(self) -> SoftModemPump:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        cpu = time.thread_time()
        try:
            self._loop()
        except Exception as exc:  # the DTE then times out on a silent modem
            self._error = exc
            log.exception("soft modem pump crashed", extra={"line": self.name})
        finally:
            self.stats.cpu_seconds = time.thread_time() - cpu

    def _loop(self) -> None:
        next_tick = time.monotonic()
        last_heard = next_tick
        while not self._stop.is_set():
            now = time.monotonic()
            readers = [self._wake_r, self._sock_fd]
            if not self._holding and len(self._from_dte) < READ_LIMIT:
                readers.append(self._master)
            writers = [self._master] if self._to_dte else []
            ready, _, _ = select.select(readers, writers, [], max(0.0, next_tick - now))
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 64)
            if self._master in ready:
                self._read_dte()
            self._feed_modem()
            if self._sock_fd in ready and self._receive_rtp():
                last_heard = time.monotonic()
            now = time.monotonic()
            if now >= next_tick:
                if now - next_tick > MAX_CATCH_UP:  # starved too long to make up in a burst
                    missed = int((now - next_tick) / TICK)
                    self._skip(missed)
                    next_tick += missed * TICK
                self._tick(now - last_heard)  # behind: the loop runs the missed ticks at once
                next_tick += TICK
            self._write_dte()

    def _read_dte(self) -> None:
        try:
            data = os.read(self._master, READ_LIMIT - len(self._from_dte))
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno != errno.EIO:  # EIO: nobody has the pty open just now
                raise
            return
        self._from_dte += data

    def _feed_modem(self) -> None:
        while self._from_dte and not self._holding:
            chunk = bytes(self._from_dte[:FEED_CHUNK])
            del self._from_dte[:FEED_CHUNK]
            self.modem.at_rx(chunk)
            self._after_modem()
            if self._hung_up and self._pending_event is None:
                # spandsp reports a hang-up only to a DTE waiting for the line: tell it
                # again after each command, so none waits for a call that is gone
                self._pending_event = CallEvent.HANGUP

    def _receive_rtp(self) -> bool:
        heard = False
        while True:
            try:
                data, source = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return heard
            except OSError as exc:  # ICMP port unreachable from the far end: not fatal
                log.debug("rtp receive error", extra={"line": self.name, "error": str(exc)})
                return heard
            if self.settings.strict_source and (source[0], int(source[1])) != self.far:
                self.stats.foreign += 1
                continue
            try:
                packet = rtp.decode_rtp(data)
            except ModemError:
                self.stats.malformed += 1
                continue
            self.stats.packets_in += 1
            heard = True
            self.jitter.push(packet)

    def _tick(self, silent_for: float) -> None:
        if not self._hung_up:
            if self.stopped():
                self._line_hangup("stopped")
            elif silent_for > self.settings.media_timeout:
                self._line_hangup("silent")
        if self._pending_event is not None:
            event, self._pending_event = self._pending_event, None
            self.modem.call_event(event)
            self._after_modem()
        frame = self.jitter.tick()
        if frame is None:
            self.modem.rx(_SILENCE)
        elif self.jitter.gap:
            self.modem.rx_fillin(rtp.FRAME_SAMPLES)
        else:
            self.modem.rx(frame)
        audio = self.modem.tx(rtp.FRAME_SAMPLES)
        self._after_modem()
        if self._hung_up:
            return
        packet = self.sender.packet(g711.encode(g711.samples_of(audio), self.settings.codec))
        try:
            self.sock.sendto(packet, self.far)
            self.stats.packets_out += 1
        except OSError as exc:
            log.debug("rtp send error", extra={"line": self.name, "error": str(exc)})

    def _skip(self, frames: int) -> None:
        """Let ``frames`` ticks pass unplayed (the thread was starved): the modem hears them
        as lost line audio and what it would have sent is dropped, playout and our RTP
        timestamps move on by as much, so both directions stay on the call's real time."""
        samples = frames * rtp.FRAME_SAMPLES
        self.modem.rx_fillin(samples)
        self.modem.tx(samples)
        self._after_modem()
        self.jitter.skip(frames)
        self.sender.skip(samples)
        self.stats.skipped += frames
        log.warning("soft modem pump starved: ticks skipped",
                    extra={"line": self.name, "ticks": frames})

    def _line_hangup(self, reason: str) -> None:
        self._hung_up = True
        self.stats.ended_by = reason
        log.info("g711 call gone: modem hung up", extra={"line": self.name, "reason": reason})
        self.modem.call_event(CallEvent.HANGUP)
        self._after_modem()
        self.on_gone()

    def _after_modem(self) -> None:
        """Act on what the modem asked of the line; queue what it said for the DTE."""
        self._to_dte += self.modem.take_dte_output()
        for control in self.modem.take_controls():
            if control.op is ControlOp.CALL:
                self.dialled = control.number
                self._pending_event = CallEvent.NO_ANSWER if self._hung_up else CallEvent.CONNECTED
            elif control.op is ControlOp.ANSWER:
                self.answered = True
                self._pending_event = CallEvent.NO_ANSWER if self._hung_up else CallEvent.ANSWERED
            elif control.op is ControlOp.CTS:
                self._holding = control.value == 0
                self._to_dte += XOFF if self._holding else XON
        self._to_dte += self.modem.take_dte_output()

    def _write_dte(self) -> None:
        if not self._to_dte:
            return
        try:
            written = os.write(self._master, self._to_dte)
        except BlockingIOError:
            return
        del self._to_dte[:written]
        if len(self._to_dte) > 1 << 20:  # nobody reads the pty
            log.warning("soft modem: DTE not reading, output dropped", extra={"line": self.name})
            self._to_dte.clear()


__all__ = ["DEFAULT_AUDIO", "AudioSettings", "AudioStats", "SoftModemPump"]
