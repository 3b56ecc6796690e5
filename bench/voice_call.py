"""One voice caller for bench/voice.py: SIPp through kamailio
(``tests/sip_scenarios/uac_audio_proxy_bye.xml``) with its RTP from a :class:`Speaker`
thread; the moment its BYE left, from SIPp's message trace.

SIPp stamps every message it traces with the wall clock (``gettimeofday``, printed in
local time to the microsecond) of its event loop's turn, the same turn that hands the
BYE to the socket (checked against a loopback capture: the traced time of five BYEs
was within 0.03 ms of their frames' capture times); the bench compares that with
``time.time()`` when the message is seen in the mailbox, on the same machine.
"""

from __future__ import annotations

import contextlib
import random
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt

from modem import g711
from modem.rtp import RtpSender
from tests.servers.ports import HOST
from tests.servers.sipp import render_scenario, start_sipp

FRAME = 160  # 20 ms of 8 kHz samples
SCENARIO = "uac_audio_proxy_bye.xml"
_BYE_SENT = re.compile(
    r"^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*\n\w+ message sent \(\d+ bytes\):\s*\n\s*\nBYE ",
    re.MULTILINE,
)


class Speaker:
    """Sends ``pcm`` (16-bit samples at 8 kHz) as PCMU RTP in real time, 20 ms a packet,
    from a socket on ``HOST`` (:attr:`port`, for the caller's SDP) to wherever umfax's
    first RTP packet came from (umfax sends its greeting from the port of its SDP answer),
    starting with that packet, i.e. at the answer; silence after ``pcm`` until closed."""

    def __init__(self, pcm: npt.NDArray[np.int16]) -> None:
        self.pcm = pcm
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        self.answered_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"speaker-{self.port}", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None,
                 _tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _run(self) -> None:
        remote: tuple[str, int] | None = None
        while remote is None and not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if ready:
                _data, remote = self.sock.recvfrom(2048)
        if remote is None:
            return
        self.answered_at = time.monotonic()
        self.sock.setblocking(False)
        sender = RtpSender(g711.PAYLOAD_TYPES["PCMU"], random.getrandbits(32))
        silence = np.zeros(FRAME, dtype=np.int16)
        next_tick, pos = self.answered_at, 0
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                while self.sock.recv(2048):  # drain what umfax sends (its greeting, beep)
                    pass
            frame = self.pcm[pos:pos + FRAME] if pos < len(self.pcm) else silence
            if len(frame) < FRAME:
                frame = np.concatenate([frame, silence[: FRAME - len(frame)]])
            pos += FRAME
            with contextlib.suppress(OSError):
                self.sock.sendto(sender.packet(g711.encode(frame, "PCMU")), remote)
            next_tick += FRAME / 8000
            time.sleep(max(0.0, next_tick - time.monotonic()))


@dataclass(frozen=True)
class CallTiming:
    """One bench call: ``bye_at`` is the wall-clock time (``time.time()`` scale) its BYE
    left SIPp, None when the call did not go as planned (``detail`` says why)."""

    caller: str
    bye_at: float | None
    detail: str = ""


def bye_sent_at(trace: str) -> float | None:
    """The wall-clock time of the first BYE in a SIPp ``-trace_msg`` file (retransmissions
    come later), or None."""
    found = _BYE_SENT.search(trace)
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()  # local, as SIPp


def place_call(proxy: tuple[str, int], callee: str, caller: str, password: str,
               pcm: npt.NDArray[np.int16], bye_seconds: float, workdir: Path) -> CallTiming:
    """Call ``callee`` through ``proxy`` as ``caller``, play ``pcm`` from the answer, and
    hang up ``bye_seconds`` after the ACK; returns once SIPp has its 200 to the BYE."""
    with Speaker(pcm) as speaker:
        scenario = render_scenario(SCENARIO, workdir, media_port=speaker.port, from_user=caller,
                                   bye_ms=round(bye_seconds * 1000))
        with start_sipp(scenario, proxy, workdir=workdir, service=callee, auth=(caller, password),
                        timeout=bye_seconds + 30) as sipp:
            result = sipp.wait(bye_seconds + 40)
    bye_at = bye_sent_at(result.messages)
    if not result.ok or bye_at is None:
        last = (result.errors.strip().splitlines() or [result.output.strip().splitlines()[-1]])[-1]
        return CallTiming(caller, None, f"sipp exit {result.returncode}: {last[:200]}")
    if speaker.answered_at is None:
        return CallTiming(caller, None, "no RTP from umfax")
    return CallTiming(caller, bye_at)
