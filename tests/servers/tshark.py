"""Loopback captures with ``dumpcap`` and their analysis with ``tshark``, Wireshark's
dissectors being an independent decoder of SIP, SDP, UDPTL, T.38 and T.30.

Usage::

    with LoopbackCapture(tmp_path / "call.pcapng", udp_ports_filter(sip_port, media_port)) as cap:
        ...  # the call
    assert problem_counts(cap.file) == {"sip": 0, "sdp": 0, "udptl": 0, "t38": 0}
    assert facsimile_controls(cap.file, decode_as=t38_decode_as(media_port))[:2] == ["DIS", "DCS"]

Without the SIP/SDP that set the T.38 session up in the capture, tshark needs
``decode_as`` (``udp.port==P,t38``) to see UDPTL on a port.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.servers.ports import HOST, free_udp_port

PROTOCOLS = ("sip", "sdp", "udptl", "t38")

#: Wireshark's ``t30.FacsimileControl`` values (see ``tshark -G values``; the final-frame
#: bit is not part of them) and the T.30 abbreviations for them.
T30_NAMES: dict[int, str] = {
    1: "DIS", 2: "CSI", 4: "NSF", 33: "CFR", 34: "FTT", 35: "CTR", 36: "CSA", 49: "MCF",
    50: "RTN", 51: "RTP", 52: "PIN", 53: "PIP", 55: "RNR", 56: "ERR", 61: "PPR", 63: "FDM",
    65: "DCS", 66: "TSI", 67: "SUB", 68: "NSS", 69: "SID", 70: "TSA", 71: "IRA", 72: "CTC",
    83: "FNV", 86: "TR", 87: "TNR", 88: "CRP", 95: "DCN", 96: "FCD", 97: "RCP", 113: "EOM",
    114: "MPS", 115: "EOR", 116: "EOP", 118: "RR", 121: "PRI-EOM", 122: "PRI-MPS", 124: "PRI-EOP",
    125: "PPS", 129: "DTC", 130: "CIG", 131: "PWD", 132: "NSC", 133: "SEP", 134: "PSA",
    135: "CIA", 136: "ISP",
}  # fmt: skip


class CaptureError(RuntimeError):
    pass


def dumpcap_binary() -> str | None:
    return shutil.which("dumpcap")


def tshark_binary() -> str | None:
    return shutil.which("tshark")


def udp_ports_filter(*ports: int, tcp: Iterable[int] = ()) -> str:
    """A capture filter for these UDP ports (and TCP ports ``tcp``)."""
    terms = [f"udp port {p}" for p in ports] + [f"tcp port {p}" for p in tcp]
    return " or ".join(terms) if terms else "udp"


def t38_decode_as(*ports: int) -> list[str]:
    """tshark ``-d`` values decoding UDPTL/T.38 on these UDP ports."""
    return [f"udp.port=={p},t38" for p in ports]


class LoopbackCapture:
    """``dumpcap -i lo -f FILTER -w FILE``; a context manager.  :meth:`start` returns once
    dumpcap really captures (the capture then holds a few probe datagrams to
    :attr:`probe_port` too); :meth:`stop` returns once every packet sent before it is in
    the file.  Each costs about a second (dumpcap's reporting interval)."""

    def __init__(self, file: Path, capture_filter: str, *, start_timeout: float = 10.0) -> None:
        binary = dumpcap_binary()
        if binary is None:
            raise CaptureError("dumpcap is not installed (apt-get install tshark)")
        self.file = file
        self.probe_port = free_udp_port()
        self.capture_filter = f"({capture_filter}) or (udp dst port {self.probe_port})"
        self.argv = [binary, "-i", "lo", "-f", self.capture_filter, "-w", str(file)]
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.messages = ""  # dumpcap's stderr
        self._count = 0  # the packet count dumpcap last reported

    def __enter__(self) -> LoopbackCapture:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start dumpcap and return once it has really captured a probe (its "Capturing on"
        message comes before the kernel filter is live)."""
        self.file.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)  # fmt: skip
        self._process = proc
        assert proc.stderr is not None
        os.set_blocking(proc.stderr.fileno(), False)
        self._sync(reports=1)

    def _sync(self, reports: int) -> None:
        """Send probe datagrams every 20 ms until dumpcap has reported ``reports`` new
        packet counts.  Packets reach dumpcap in kernel blocks, in order, and it reports
        its count every 0.5 s: a first new count proves the filter live; after a second
        one, the block holding the first probe (and everything sent before it) is written."""
        proc = self._process
        assert proc is not None and proc.stderr is not None
        deadline = time.monotonic() + self.start_timeout
        seen = self._count
        left = reports
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            while left:
                if proc.poll() is not None or time.monotonic() > deadline:
                    self._read_messages()
                    self.stop(sync=False)
                    raise CaptureError(f"dumpcap did not capture its probes: {self.messages}")
                probe.sendto(b"umfax capture probe", (HOST, self.probe_port))
                time.sleep(0.02)
                self._read_messages()
                if self._count > seen:
                    seen = self._count
                    left -= 1

    def _read_messages(self) -> None:
        proc = self._process
        if proc is not None and proc.stderr is not None:
            self.messages += (proc.stderr.read() or b"").decode(errors="replace")
            counts = re.findall(r"Packets: (\d+)", self.messages)
            self._count = int(counts[-1]) if counts else 0

    def stop(self, sync: bool = True) -> None:
        """Stop dumpcap once every packet sent so far is in the file (``sync``)."""
        if self._process is None:
            return
        if sync and self._process.poll() is None:
            with contextlib.suppress(CaptureError):
                self._sync(reports=2)
        proc, self._process = self._process, None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            self.messages += (proc.stderr.read() or b"").decode(errors="replace")
            proc.stderr.close()


def _tshark(file: Path, args: Sequence[str], decode_as: Sequence[str] = ()) -> list[list[str]]:
    """Rows of ``tshark -r FILE -T fields`` (tab-separated, aggregated occurrences)."""
    binary = tshark_binary()
    if binary is None:
        raise CaptureError("tshark is not installed (apt-get install tshark)")
    argv = [binary, "-r", str(file), "-n", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
            "-E", "aggregator=,"]  # fmt: skip
    for d in decode_as:
        argv += ["-d", d]
    done = subprocess.run([*argv, *args], capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise CaptureError(f"tshark failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return [line.split("\t") for line in done.stdout.decode(errors="replace").splitlines() if line]


@dataclass(frozen=True)
class Problem:
    """A frame tshark marked malformed or with an expert error."""

    frame: int
    protocols: tuple[str, ...]  # frame.protocols, outermost first
    messages: str  # tshark's expert messages for it

    @property
    def malformed(self) -> bool:
        """A dissector exception (rather than only an expert error)."""
        return "Malformed Packet" in self.messages

    def __str__(self) -> str:
        return f"frame {self.frame} ({':'.join(self.protocols)}): {self.messages}"


def problems(file: Path, decode_as: Sequence[str] = (), *, where: str = "") -> list[Problem]:
    """Every frame with a malformed packet or an expert error (tshark's own verdict);
    ``where``: a display filter those frames must match too (e.g. ``udp.srcport == P``)."""
    display = "_ws.malformed || _ws.expert.severity >= 8388608"  # PI_ERROR
    rows = _tshark(
        file,
        ["-Y", f"({display}) && ({where})" if where else display,
         "-e", "frame.number", "-e", "frame.protocols", "-e", "_ws.expert.message"],
        decode_as,
    )  # fmt: skip
    return [Problem(int(r[0]), tuple(r[1].split(":")), r[2] if len(r) > 2 else "") for r in rows]


def problem_counts(
    file: Path,
    decode_as: Sequence[str] = (),
    protocols: Sequence[str] = PROTOCOLS,
    *,
    malformed_only: bool = False,
) -> dict[str, int]:
    """How many problem frames (:func:`problems`; only malformed ones when
    ``malformed_only``) carry each of ``protocols``.  tshark names UDPTL-carried T.38
    ``t38`` (its UDPTL layer is part of that dissector)."""
    found = [p for p in problems(file, decode_as) if p.malformed or not malformed_only]
    return {proto: sum(proto in p.protocols for p in found) for proto in protocols}


def protocol_frames(file: Path, display_filter: str, decode_as: Sequence[str] = ()) -> int:
    """How many frames match a display filter (e.g. ``"sip.Method == INVITE"``, ``"t38"``)."""
    return len(_tshark(file, ["-Y", display_filter, "-e", "frame.number"], decode_as))


def facsimile_controls(file: Path, decode_as: Sequence[str] = (), *, where: str = "") -> list[str]:
    """The T.30 frames tshark reassembled, in capture order, as names (``DIS``, ``DCS``,
    ``CFR``, ``FCD``, ``MCF``, ``DCN`` ...; ``0x..`` for a value not in :data:`T30_NAMES`).
    Every FCD of an ECM block is one entry.  ``where``: a display filter the frames must
    match too (e.g. ``udp.srcport == P``: one direction of a T.38 conversation)."""
    names: list[str] = []
    display = f"t30.FacsimileControl && ({where})" if where else "t30.FacsimileControl"
    for row in _tshark(file, ["-Y", display, "-e", "t30.FacsimileControl"], decode_as):
        for value in row[0].split(","):
            code = int(value, 0)
            names.append(T30_NAMES.get(code, f"0x{code:02x}"))
    return names


def rtp_payloads(file: Path, where: str) -> list[tuple[float, int, bytes]]:
    """The RTP packets tshark decoded that match the display filter ``where`` (e.g.
    ``udp.srcport == P``), in capture order: (capture time in seconds, payload type,
    payload).  tshark finds RTP from the SIP/SDP in the capture."""
    rows = _tshark(file, ["-Y", f"rtp && ({where})", "-e", "frame.time_relative", "-e", "rtp.p_type",
                          "-e", "rtp.payload"])  # fmt: skip
    return [(float(r[0]), int(r[1]), bytes.fromhex(r[2].replace(":", "")) if len(r) > 2 else b"")
            for r in rows]  # fmt: skip
