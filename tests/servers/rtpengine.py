"""A throwaway rtpengine on 127.0.0.1, in user space (no kernel module), and a client of its
ng control protocol: a cookie, a space and a bencoded dictionary over UDP, answered the
same way.

With ``"T.38": ["decode"]`` in an ``offer`` whose SDP has ``m=image udptl t38``, rtpengine
is a T.38 gateway: the offer it returns (for the far end) is ``m=audio RTP/AVP 0 8``, and
the ``answer`` it returns (for the T.38 side) is ``m=image`` again.

Usage::

    with RtpengineServer() as rtp:
        audio_offer = rtp.offer(call_id, "from-tag", t38_sdp, **{"T.38": ["decode"]})["sdp"]
        t38_answer = rtp.answer(call_id, "from-tag", "to-tag", audio_answer_sdp)["sdp"]
        rtp.delete(call_id, "from-tag")
"""

from __future__ import annotations

import contextlib
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.servers import bencode
from tests.servers.daemon import Daemon
from tests.servers.ports import HOST, free_udp_port


def rtpengine_binary() -> str | None:
    """The path of ``rtpengine``, or None when it is not installed."""
    return shutil.which("rtpengine")


class RtpengineError(RuntimeError):
    pass


class NgClient:
    """The ng protocol over UDP: :meth:`command` sends one request and returns the reply
    dictionary; a reply with ``result: error`` raises :class:`RtpengineError`."""

    def __init__(self, address: tuple[str, int], timeout: float = 2.0) -> None:
        self.address = address
        self.timeout = timeout

    def command(self, name: str, **arguments: Any) -> dict[str, Any]:
        cookie = secrets.token_hex(8)
        request = cookie.encode() + b" " + bencode.encode({"command": name, **arguments})
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(self.address)
            sock.send(request)
            try:
                while True:  # skip stray replies to other cookies
                    data = sock.recv(65535)
                    head, _, body = data.partition(b" ")
                    if head == cookie.encode():
                        break
            except OSError as exc:
                raise RtpengineError(f"no reply to {name} from {self.address}: {exc}") from exc
        reply = bencode.decode(body)
        if not isinstance(reply, dict):
            raise RtpengineError(f"reply to {name} is not a dictionary: {reply!r}")
        if reply.get("result") == "error":
            raise RtpengineError(f"{name}: {reply.get('error-reason', reply)}")
        return reply

    def ping(self) -> bool:
        return self.command("ping").get("result") == "pong"

    def offer(self, call_id: str, from_tag: str, sdp: str, **flags: Any) -> dict[str, Any]:
        """``flags``: more ng keys, e.g. ``**{"T.38": ["decode"]}`` or ``flags=[...]``."""
        return self.command("offer", **{"call-id": call_id, "from-tag": from_tag, "sdp": sdp}, **flags)

    def answer(self, call_id: str, from_tag: str, to_tag: str, sdp: str, **flags: Any) -> dict[str, Any]:
        return self.command(
            "answer", **{"call-id": call_id, "from-tag": from_tag, "to-tag": to_tag, "sdp": sdp}, **flags
        )

    def delete(self, call_id: str, from_tag: str, **flags: Any) -> dict[str, Any]:
        return self.command("delete", **{"call-id": call_id, "from-tag": from_tag}, **flags)


class RtpengineServer(NgClient, Daemon):
    """rtpengine in the foreground under a temporary directory; a context manager and an
    :class:`NgClient` for it.  Media ports come from a random range of ``port_count``
    (rtpengine skips ports others hold).  Attributes: ``ng_port``, ``port_min``,
    ``port_max``, ``log_file``."""

    def __init__(self, *, port_count: int = 200, log_level: int = 6, start_timeout: float = 5.0) -> None:
        binary = rtpengine_binary()
        if binary is None:
            raise RtpengineError("rtpengine is not installed (apt-get install rtpengine-daemon)")
        self.ng_port = free_udp_port()
        super().__init__((HOST, self.ng_port))
        self.port_min = random.randrange(20000, 30000 - port_count, 2)
        self.port_max = self.port_min + port_count - 1
        self.root = Path(tempfile.mkdtemp(prefix="umfax-rtpengine-"))
        self.log_file = self.root / "rtpengine.log"
        self.argv = [
            binary, "--config-file=none", f"--interface={HOST}", f"--listen-ng={HOST}:{self.ng_port}",
            "--table=-1", "--foreground", "--log-stderr", f"--log-level={log_level}",
            f"--port-min={self.port_min}", f"--port-max={self.port_max}",
            f"--pidfile={self.root / 'rtpengine.pid'}", "--num-threads=2",
        ]  # fmt: skip
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + self.start_timeout
        probe = NgClient(self.address, timeout=0.1)
        while True:
            if self._process.poll() is not None:
                self._process = None
                raise RtpengineError(f"rtpengine exited at start:\n{self.log_text()}")
            with contextlib.suppress(RtpengineError):
                if probe.ping():
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RtpengineError(f"rtpengine did not answer ping:\n{self.log_text()}")
