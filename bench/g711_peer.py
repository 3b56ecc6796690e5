"""The G.711 bench's calls: one real-time one-page fax over G.711 RTP on loopback, through
an impairing relay, between umfax's :class:`~modem.softmodem.G711Line` (our Class 1
driver and T.30 engine on spandsp's T.31 soft modem) and spandsp's ``fax_state``, or
between two ``fax_state`` ends (the reference).

The spandsp end is :class:`BufferedAudioFax`: tests/servers/fax_audio.py's
:class:`~tests.servers.fax_audio.AudioFax` behind the same fixed 80 ms playout buffer as
ours (:class:`modem.rtp.JitterBuffer`), a lost frame concealed with ``fax_rx_fillin``
(ours: ``t31_rx_fillin``).  Real deployments of spandsp's fax_state (FreeSWITCH,
Asterisk) sit behind a jitter buffer too; without one, jitter towards the spandsp end
garbles its audio whoever the other end is, and the reference would measure that.  So
every row meets the same network and the same buffering: rows differ only by the fax
stacks.

A call is completed when the sender ended without error and the receiver ended well
with the page.
"""

from __future__ import annotations

import ctypes
import socket
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.sip_page import corpus_page, page_tiff
from modem import g711, rtp
from modem.api import CallResult, IncomingCall, PageImage, ReceivedPage, ReceiveOptions, SendOptions
from modem.sim.spandsp_lib import STEP_SAMPLES, SUPPORT_T4_1D_T4_2D_T6
from modem.softmodem import AudioSettings, AudioStats, G711Line
from tests.servers.fax_audio import AudioFax
from tests.servers.ports import HOST
from tests.servers.rtp_relay import ImpairedRelay
from umfax.conversion.codec import count_rows

#: How umfax's line workers receive: ECM pages' rows counted by libtiff (umfax/lines/worker.py).
RECEIVE = ReceiveOptions(local_id="+1 555 0199", count_rows=count_rows)

JITTER_BUFFER_S = AudioSettings().jitter  # the same fixed playout delay on both ends (80 ms)
CALL_LIMIT_S = 150.0  # a call still running after this is a failure (T.30 gives up sooner)
CODEC: g711.Law = "PCMU"
_SILENCE = bytes(2 * STEP_SAMPLES)

#: The bench corpus: call ``n`` sends page ``PAGES[n % len(PAGES)]`` (class, seed of
#: :mod:`bench.text_corpus`, what it is).
PAGES: tuple[tuple[str, int, str], ...] = (
    ("sans", 1, "text page (8-12 pt sans body text)"),
    ("small", 1, "dense text page (6-7.5 pt, narrow margins)"),
)


def bench_page(n: int) -> PageImage:
    cls, seed, _ = PAGES[n % len(PAGES)]
    return corpus_page(cls, seed)


def pages_spec() -> str:
    """:data:`PAGES` as a command-line argument (for the far-end process)."""
    return ",".join(f"{cls}:{seed}" for cls, seed, _ in PAGES)


def use_pages(spec: str) -> None:
    """Set :data:`PAGES` from :func:`pages_spec`'s form."""
    global PAGES
    PAGES = tuple((cls, int(seed), cls) for cls, seed in (item.split(":") for item in spec.split(",")))


def describe_pages() -> str:
    return "; ".join(f"{what}: text_corpus '{cls}' seed {seed}, {len(corpus_page(cls, seed).data)} "
                     "octets MMR" for cls, seed, what in PAGES)


class BufferedAudioFax(AudioFax):
    """spandsp's fax_state on RTP behind a fixed playout buffer of :data:`JITTER_BUFFER_S`."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        # MH, MR and MMR, as the T.38 bench's spandsp terminals (spandsp 0.0.6 offers no MMR
        # by default, and MR makes a page half as long again on the line)
        self.lib.t30_set_supported_compressions(self._t30, SUPPORT_T4_1D_T4_2D_T6)
        fillin = self.lib.fax_rx_fillin
        fillin.restype, fillin.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]
        decoders = {pt: g711.decoder(law) for pt, law in g711.LAWS.items()}
        self.buffer = rtp.JitterBuffer.for_depth(decoders, JITTER_BUFFER_S)
        self.late_ticks = 0  # 20 ms ticks run more than one tick behind (a CPU-starved end)

    def _receive(self) -> int:
        count = 0
        while True:
            try:
                packet, source = self.sock.recvfrom(2048)
            except BlockingIOError:
                return count
            try:
                parsed = rtp.decode_rtp(packet)
            except rtp.RtpError:
                continue
            if self.remote is None:
                self.remote = (source[0], int(source[1]))
            self.buffer.push(parsed)
            count += 1

    def _step(self, seq: int, ssrc: int) -> None:
        if time.monotonic() - self._started - seq * STEP_SAMPLES / 8000 > 2 * STEP_SAMPLES / 8000:
            self.late_ticks += 1
        self.packets_in += self._receive()
        frame = self.buffer.tick()  # None: not playing yet (silence keeps spandsp's timers going)
        if self.buffer.gap:
            self.lib.fax_rx_fillin(self._fax, STEP_SAMPLES)
        else:
            samples = (ctypes.c_int16 * STEP_SAMPLES).from_buffer_copy(frame or _SILENCE)
            self.lib.fax_rx(self._fax, samples, STEP_SAMPLES)
        self._rx_samples += STEP_SAMPLES
        self._transmit(seq, ssrc)


@dataclass(frozen=True)
class G711Call:
    completed: bool
    sender: str  # how the sending end ended
    receiver: str
    seconds: float  # wall time of the call
    dropped: int  # datagrams the relay dropped (both ways)
    page: str  # corpus class of the page


def _far_text(result: object) -> str:
    text = getattr(result, "completion_text", "?")
    return "OK" if getattr(result, "ok", False) else str(text)


def _recoder() -> Callable[..., PageImage] | None:
    try:
        from umfax.lines.pages import recode_image
    except ImportError:  # modem without the service: pages go as they are (MMR)
        return None
    return recode_image


#: umfax's page recoder (pages go out in the best coding the far end takes).  Imported
#: here, not inside a call: importing umfax takes seconds, and the far end's audio would
#: pile up on our socket meanwhile.
RECODER = _recoder()


def ours_text(result: CallResult, stats: AudioStats | None) -> str:
    """How our end of a call ended, with the media figures that explain a failure."""
    if result.ok:
        return "OK"
    text = f"{result.cause}" + (f" ({result.message})" if result.message else "")
    if stats is not None and (stats.jitter.overflows or stats.jitter.late):
        text += f" [jitter buffer: {stats.jitter.overflows} overflows, {stats.jitter.late} late]"
    return text


def umfax_sends(relay: ImpairedRelay, page: PageImage, tmp: Path) -> tuple[bool, str, str]:
    """G711Line.send (side a) -> spandsp fax_state receiving (side b)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    fax = BufferedAudioFax(calling=False, receive_tiff=tmp / "rx.tif", codec=CODEC, remote=relay.b_address)
    relay.peers = {"a": (HOST, sock.getsockname()[1]), "b": (HOST, fax.port)}
    try:
        with fax:
            line = G711Line(sock, relay.a_address, AudioSettings(codec=CODEC), name="bench")
            result = line.send("", [page], SendOptions(local_id="+1 555 0100", recode=RECODER),
                               lambda _p: None)
            far = fax.wait(30)
    finally:
        sock.close()
    ok = result.ok and far.ok and far.pages >= 1
    return ok, ours_text(result, line.stats), _far_text(far)


def spandsp_sends_to_umfax(relay: ImpairedRelay, page: PageImage, tmp: Path) -> tuple[bool, str, str]:
    """spandsp fax_state calling and sending (side a) -> G711Line.receive (side b)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    fax = BufferedAudioFax(calling=True, send_tiff=page_tiff(page, tmp / "tx.tif"), codec=CODEC,
                           remote=relay.a_address)
    relay.peers = {"a": (HOST, fax.port), "b": (HOST, sock.getsockname()[1])}
    pages: list[ReceivedPage] = []
    try:
        with fax:
            line = G711Line(sock, relay.b_address, AudioSettings(codec=CODEC), name="bench")
            result = line.receive(IncomingCall(caller_number="15550100"),
                                  RECEIVE, pages.append, lambda _p: None)
            far = fax.wait(30)
    finally:
        sock.close()
    ok = far.ok and result.ok and sum(1 for p in pages if p.good) >= 1
    return ok, _far_text(far), ours_text(result, line.stats)


def spandsp_to_spandsp(relay: ImpairedRelay, page: PageImage, tmp: Path) -> tuple[bool, str, str]:
    """The reference: fax_state calling and sending (side a) -> fax_state receiving (side b)."""
    rx = BufferedAudioFax(calling=False, receive_tiff=tmp / "rx.tif", codec=CODEC, remote=relay.b_address)
    tx = BufferedAudioFax(calling=True, send_tiff=page_tiff(page, tmp / "tx.tif"), codec=CODEC,
                          remote=relay.a_address)
    relay.peers = {"a": (HOST, tx.port), "b": (HOST, rx.port)}
    with rx, tx:
        sent = tx.wait(CALL_LIMIT_S)
        got = rx.wait(30)
    ok = sent.ok and got.ok and got.pages >= 1
    return ok, _far_text(sent), _far_text(got)


Row = Callable[[ImpairedRelay, PageImage, Path], tuple[bool, str, str]]

ROWS: dict[str, Row] = {
    "umfax->spandsp": umfax_sends,
    "spandsp->umfax": spandsp_sends_to_umfax,
    "spandsp->spandsp": spandsp_to_spandsp,
}


def run_g711_call(row: str, n: int, *, loss: float, jitter_s: float, seed: str) -> G711Call:
    """Call number ``n`` of ``row`` through a relay that drops ``loss`` of the datagrams
    and delays each by 0..``jitter_s`` (both ways)."""
    page = bench_page(n)
    started = time.monotonic()
    relay = ImpairedRelay(loss=loss, jitter_to_a=jitter_s, jitter_to_b=jitter_s,
                          seed=zlib.crc32(seed.encode()))
    try:
        with tempfile.TemporaryDirectory(prefix="umfax-g711-bench-") as tmp, relay:
            ok, sender, receiver = ROWS[row](relay, page, Path(tmp))
    except Exception as exc:  # a bench: report, do not hide
        ok, sender, receiver = False, f"crashed: {exc!r}", "-"
    return G711Call(ok, sender, receiver, time.monotonic() - started, relay.dropped, PAGES[n % len(PAGES)][0])
