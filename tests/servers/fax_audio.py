"""A fax machine on G.711 RTP: spandsp's ``fax_state`` (the audio-side modems and T.30,
through ctypes) fed and drained in 20 ms frames over a UDP socket, in a thread.  It sends
a TIFF or receives into one; it is the far end on rtpengine's audio side.

Each 20 ms it decodes whatever RTP arrived (PCMU or PCMA, by payload type) into
``fax_rx`` -- plus silence when the far end is 100 ms behind (silent, or not started), so
spandsp's timers keep running -- and sends
one RTP packet of ``fax_tx`` output to the peer (given, or the source of the first packet
received: symmetric RTP).  G.711 is spandsp's own ``g711_encode``/``g711_decode``.

Usage::

    with AudioFax(calling=True, send_tiff=page, remote=(HOST, port)) as fax:
        result = fax.wait(60)
    assert result.ok, result
"""

from __future__ import annotations

import contextlib
import ctypes
import random
import socket
import struct
import threading
from pathlib import Path
from typing import Any

from modem.sim.spandsp_lib import (
    MODEM_BITS,
    PHASE_E,
    SAMPLE_RATE,
    STEP_SAMPLES,
    capability_mask,
    load_spandsp,
)
from tests.servers.fax_peer import FaxResult, SpandspFaxPeer
from tests.servers.ports import HOST

PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}
_G711_MODE = {0: 1, 8: 0}  # payload type -> spandsp G711_ULAW (1) / G711_ALAW (0)
FRAME_SECONDS = STEP_SAMPLES / SAMPLE_RATE  # (fax_peer.FRAME_SECONDS, spelled from spandsp)
__all__ = ["FRAME_SECONDS", "AudioFax", "FaxResult", "audio_sdp", "rtp_packet", "rtp_payload", "sdp_port"]


def _fax_lib() -> Any:
    """libspandsp with the fax_state and g711 prototypes (spandsp/fax.h, g711.h) declared."""
    lib = load_spandsp()
    vp, i = ctypes.c_void_p, ctypes.c_int
    amp = ctypes.POINTER(ctypes.c_int16)
    octets = ctypes.POINTER(ctypes.c_uint8)
    sigs: dict[str, tuple[Any, list[Any]]] = {
        "fax_init": (vp, [vp, i]),
        "fax_free": (i, [vp]),
        "fax_rx": (i, [vp, amp, i]),
        "fax_tx": (i, [vp, amp, i]),
        "fax_get_t30_state": (vp, [vp]),
        "fax_set_transmit_on_idle": (None, [vp, i]),
        "fax_set_tep_mode": (None, [vp, i]),
        "g711_init": (vp, [vp, i]),
        "g711_free": (i, [vp]),
        "g711_encode": (i, [vp, octets, amp, i]),
        "g711_decode": (i, [vp, amp, octets, i]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def rtp_packet(payload_type: int, seq: int, timestamp: int, ssrc: int, payload: bytes, marker: bool) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type | (0x80 if marker else 0), seq & 0xFFFF,
                       timestamp & 0xFFFFFFFF, ssrc) + payload  # fmt: skip


def rtp_payload(packet: bytes) -> tuple[int, bytes] | None:
    """Payload type and payload of an RTP packet (CSRCs, extension and padding skipped);
    None for anything else (RTCP, junk)."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    payload_type = packet[1] & 0x7F
    if 72 <= payload_type <= 76:  # RTCP sent to the RTP port
        return None
    start = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10 and len(packet) >= start + 4:
        start += 4 + 4 * struct.unpack_from("!H", packet, start + 2)[0]
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
    return (payload_type, packet[start:end]) if start <= end else None


class AudioFax(SpandspFaxPeer):
    """spandsp's fax_state on an RTP socket bound to ``HOST:port`` (a free port when
    ``port`` is 0; :attr:`port`).  ``calling``: the caller's side of T.30 (sends CNG);
    ``send_tiff`` / ``receive_tiff``: the pages to send, or where received pages go;
    ``remote``: where RTP goes (else where the first packet came from); ``codec``:
    ``PCMU`` or ``PCMA`` for what it sends.  :meth:`start` (or ``with``) runs it;
    :meth:`wait` returns its :class:`FaxResult`."""

    def __init__(
        self,
        *,
        calling: bool,
        send_tiff: Path | None = None,
        receive_tiff: Path | None = None,
        remote: tuple[str, int] | None = None,
        port: int = 0,
        codec: str = "PCMU",
        ecm: bool = True,
        modems: tuple[str, ...] = ("v17", "v29", "v27"),
        ident: str = "umfax audio fax",
        linger: float = 1.0,
    ) -> None:
        if (send_tiff is None) == (receive_tiff is None):
            raise ValueError("give exactly one of send_tiff and receive_tiff")
        self.lib = _fax_lib()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, port))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.remote = remote
        self.payload_type = PAYLOAD_TYPES[codec]
        self.linger = linger  # seconds of audio after phase E (the last HDLC frames drain)
        self.sending = send_tiff is not None
        self.packets_in = 0
        self.packets_out = 0
        self._rx_samples = 0  # samples given to fax_rx so far
        self._peer_init()
        self._ssrc = random.getrandbits(32)
        self._fax = self.lib.fax_init(None, 1 if calling else 0)
        self.lib.fax_set_transmit_on_idle(self._fax, 1)
        self.lib.fax_set_tep_mode(self._fax, 0)
        t30 = self.lib.fax_get_t30_state(self._fax)
        self._t30 = t30
        self.lib.t30_set_tx_ident(t30, ident.encode())
        self.lib.t30_set_ecm_capability(t30, 1 if ecm else 0)
        self.lib.t30_set_supported_modems(t30, capability_mask(modems, MODEM_BITS, "modems"))
        if send_tiff is not None:
            self.lib.t30_set_tx_file(t30, str(send_tiff).encode(), -1, -1)
        else:
            self.lib.t30_set_rx_file(t30, str(receive_tiff).encode(), -1)
        self._phase_e_cb = PHASE_E(self._phase_e)  # kept: spandsp holds the pointer
        self.lib.t30_set_phase_e_handler(t30, self._phase_e_cb, None)
        self._codecs = {pt: self.lib.g711_init(None, mode) for pt, mode in _G711_MODE.items()}
        self._thread = threading.Thread(target=self._run, name=f"audio-fax-{self.port}", daemon=True)

    # -- spandsp callbacks ------------------------------------------------------------------

    # -- the 20 ms loop ---------------------------------------------------------------------

    def _receive(self) -> int:
        """Feed every RTP packet waiting on the socket to fax_rx; how many there were."""
        count = 0
        while True:
            try:
                packet, source = self.sock.recvfrom(2048)
            except BlockingIOError:
                return count
            parsed = rtp_payload(packet)
            if parsed is None or parsed[0] not in self._codecs or not parsed[1]:
                continue
            if self.remote is None:
                self.remote = (source[0], int(source[1]))
            count += 1
            payload = parsed[1]
            samples = (ctypes.c_int16 * len(payload))()
            data = (ctypes.c_uint8 * len(payload)).from_buffer_copy(payload)
            n = self.lib.g711_decode(self._codecs[parsed[0]], samples, data, len(payload))
            self.lib.fax_rx(self._fax, samples, n)
            self._rx_samples += n

    def _step(self, seq: int, ssrc: int) -> None:
        self.packets_in += self._receive()
        # Catch up with silence only when the far end fell 100 ms behind (it is silent or
        # not started): filling every empty tick would cut holes into jittered modem audio.
        behind = (seq + 1) * STEP_SAMPLES - self._rx_samples
        if behind > 5 * STEP_SAMPLES:
            self.lib.fax_rx(self._fax, (ctypes.c_int16 * behind)(), behind)
            self._rx_samples += behind
        self._transmit(seq, ssrc)

    def _transmit(self, seq: int, ssrc: int) -> None:
        """The machine's next 20 ms of audio (silence-padded), G.711-coded, as RTP packet ``seq``."""
        samples = (ctypes.c_int16 * STEP_SAMPLES)()
        n = self.lib.fax_tx(self._fax, samples, STEP_SAMPLES)
        if n < STEP_SAMPLES:
            ctypes.memset(ctypes.byref(samples, 2 * n), 0, 2 * (STEP_SAMPLES - n))
        encoded = (ctypes.c_uint8 * STEP_SAMPLES)()
        self.lib.g711_encode(self._codecs[self.payload_type], encoded, samples, STEP_SAMPLES)
        if self.remote is not None:
            packet = rtp_packet(self.payload_type, seq, seq * STEP_SAMPLES, ssrc, bytes(encoded), seq == 0)
            with contextlib.suppress(OSError):
                self.sock.sendto(packet, self.remote)
                self.packets_out += 1

    def _tick(self, seq: int) -> None:
        self._step(seq, self._ssrc)

    # -- lifecycle ----------------------------------------------------------------------------

    def _free(self) -> None:
        if self._fax:
            self.lib.fax_free(self._fax)
            self._fax = None
        for codec in self._codecs.values():
            self.lib.g711_free(codec)
        self._codecs = {}


def audio_sdp(port: int, codec: str = "PCMU", session_id: int = 1) -> str:
    """A minimal SDP for an :class:`AudioFax` at ``HOST:port`` (for rtpengine's answer)."""
    pt = PAYLOAD_TYPES[codec]
    return (
        f"v=0\r\no=- {session_id} 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {codec}/8000\r\na=sendrecv\r\n"
    )


def sdp_port(sdp: str, media: str) -> int:
    """The port of the first ``m=<media>`` line of an SDP (``audio``, ``image``)."""
    for line in sdp.splitlines():
        if line.startswith(f"m={media} "):
            return int(line.split()[1])
    raise ValueError(f"no m={media} line in SDP:\n{sdp}")
