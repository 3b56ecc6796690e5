"""baresip (Debian ``baresip`` 1.0) as a voice caller for tests: headless on 127.0.0.1,
with its own configuration directory, no sound card, controlled over ``ctrl_tcp``.

What it runs (the configuration that works with baresip 1.0.0 here):

- modules ``g711`` (PCMU/PCMA only: ``audio_codecs`` on the account), ``aufile`` (the
  audio source: a WAV at 8 kHz mono 16-bit, ``audio_source aufile,<path>``; at its end
  aufile reports "end of file" and baresip hangs up), ``alsa`` as a player bound to ALSA's
  ``null`` device (received audio goes nowhere; baresip needs some player), ``account``
  (the ``accounts`` file), ``menu`` (the commands; ``statmode_default off`` keeps its
  call status line, 50 a second, out of the log) and ``ctrl_tcp`` (JSON commands and
  events in netstrings on a TCP port).  No ``stdio``: with stdin not a terminal it fails.
- ``net_interface 127.0.0.1`` (an address: ``lo`` is refused) and ``sip_listen`` on a free
  port P (UDP and TCP; baresip also binds SIP/TLS on P+1, so that must be free too), so
  SIP, SDP and RTP stay on loopback; ``rtp_ports`` a small range from a free port.
- the account ``<sip:USER@PROXY>;auth_pass=...;regint=0;audio_codecs=pcmu``: no
  REGISTER, but a 401/407 challenge of an INVITE is answered with ``USER``/password.

Usage::

    with BaresipCaller(speech_wav, user="12125550199", password="far", proxy=(HOST, sip.port)) as phone:
        call = phone.call("sip:12125550100@127.0.0.1:5060", hangup_after=4.0)
        assert call.established, call

:meth:`BaresipCaller.call` dials, waits for the answer, lets the WAV play, hangs up after
``hangup_after`` seconds (or lets aufile's end of file hang up: from right after the last sample to about a
second later; give the WAV a silent tail when the hang-up time matters) and returns a
:class:`CallRecord` with the times of the answer and the end and every ctrl_tcp event.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.daemon import Daemon
from tests.servers.kamailio import free_tcp_udp_port
from tests.servers.ports import HOST, free_port, free_udp_port

_CONFIG = """\
poll_method\t\tepoll
sip_listen\t\t{host}:{sip_port}
net_interface\t\t{host}
call_local_timeout\t{answer_timeout}
call_max_calls\t\t1
audio_player\t\talsa,null
audio_alert\t\talsa,null
audio_source\t\taufile,{wav}
ausrc_srate\t\t8000
auplay_srate\t\t8000
ausrc_channels\t\t1
auplay_channels\t\t1
rtp_ports\t\t{rtp_low}-{rtp_high}
rtcp_mux\t\tno
jitter_buffer_delay\t5-10
module_path\t\t{module_path}
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\talsa.so
module_tmp\t\taccount.so
module_app\t\tmenu.so
statmode_default\toff
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t{host}:{ctrl_port}
"""

MODULE_PATH = Path("/usr/lib/baresip/modules")


class BaresipError(RuntimeError):
    """baresip is missing, did not start, or a call did not go as asked."""


def baresip_binary() -> str | None:
    """The path of ``baresip``, or None when it (or its modules) is not installed."""
    binary = shutil.which("baresip")
    if binary is None or not (MODULE_PATH / "aufile.so").exists():
        return None
    return binary


def _free_sip_port() -> int:
    """A port P free for UDP and TCP with P+1 free for TCP: baresip's ``sip_listen`` binds
    UDP and TCP on P and SIP/TLS on P+1 (1.0 has no switch to leave TLS out)."""
    for _ in range(50):
        port = free_tcp_udp_port()
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port + 1))
            except OSError:
                continue
        return port
    raise BaresipError("no port P free for UDP/TCP with P+1 free for TCP")


@dataclass
class CallRecord:
    """One call placed by :meth:`BaresipCaller.call`.  Times are ``time.monotonic()``;
    ``closed_reason`` is baresip's CALL_CLOSED text (e.g. "end of file", "Connection
    reset by user", "486 Busy Here")."""

    uri: str
    dialled_at: float
    established_at: float | None = None
    closed_at: float | None = None
    closed_reason: str = ""
    hung_up_by_us: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def established(self) -> bool:
        return self.established_at is not None

    @property
    def seconds(self) -> float:
        """From the answer to the end of the call (0 when never answered)."""
        if self.established_at is None or self.closed_at is None:
            return 0.0
        return self.closed_at - self.established_at


class BaresipCaller(Daemon):
    """baresip under a temporary directory, playing ``wav`` into every call; a context
    manager.  ``user``/``password``: the account's SIP user and the digest password for
    challenges (``None``: no credentials); ``proxy``: ``(host, port)`` of the account's
    domain (kamailio).  Attributes: ``sip_port``, ``ctrl_port``, ``rtp_ports``, ``root``,
    ``log_file``, ``events`` (every ctrl_tcp event so far)."""

    host = HOST

    def __init__(
        self,
        wav: Path,
        *,
        user: str = "caller",
        password: str | None = None,
        proxy: tuple[str, int] | None = None,
        codec: str = "pcmu",
        answer_timeout: int = 30,
        start_timeout: float = 5.0,
    ) -> None:
        binary = baresip_binary()
        if binary is None:
            raise BaresipError("baresip is not installed (apt-get install baresip)")
        self.binary = binary
        self.wav = Path(wav).resolve()
        self.user = user
        self.password = password
        self.proxy = proxy
        self.codec = codec
        self.answer_timeout = answer_timeout
        self.start_timeout = start_timeout
        self.sip_port = _free_sip_port()
        self.ctrl_port = free_port()
        low = min(free_udp_port(), 64000) & ~1
        self.rtp_ports = (low, low + 3)
        self.root = Path(tempfile.mkdtemp(prefix="umfax-baresip-"))
        self.log_file = self.root / "baresip.log"
        self.events: list[dict[str, Any]] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._incoming: queue.Queue[dict[str, Any]] = queue.Queue()
        self._tokens = 0

    # -- configuration ------------------------------------------------------------------------

    def config_text(self) -> str:
        return _CONFIG.format(
            host=self.host,
            sip_port=self.sip_port,
            answer_timeout=self.answer_timeout,
            wav=self.wav,
            rtp_low=self.rtp_ports[0],
            rtp_high=self.rtp_ports[1],
            module_path=MODULE_PATH,
            ctrl_port=self.ctrl_port,
        )

    def account_text(self) -> str:
        domain = f"{self.proxy[0]}:{self.proxy[1]}" if self.proxy else f"{self.host}:{self.sip_port}"
        params = [f"audio_codecs={self.codec}", "regint=0", "answermode=manual"]
        if self.password is not None:
            params += [f"auth_user={self.user}", f"auth_pass={self.password}"]
        return f"<sip:{self.user}@{domain}>;" + ";".join(params) + "\n"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if not self.wav.is_file():
            raise BaresipError(f"no WAV to play: {self.wav}")
        (self.root / "config").write_text(self.config_text())
        (self.root / "accounts").write_text(self.account_text())
        (self.root / "contacts").write_text("")
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-f", str(self.root), "-v"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: stop() ends it all
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self._ctrl = socket.create_connection((self.host, self.ctrl_port), timeout=0.2)
                break
            except OSError as exc:
                if self._process.poll() is not None:
                    self._process = None
                    raise BaresipError(f"baresip exited at start:\n{self.log_text()}") from exc
                if time.monotonic() > deadline:
                    self.stop()
                    raise BaresipError(f"no ctrl_tcp on {self.ctrl_port}:\n{self.log_text()}") from exc
                time.sleep(0.05)
        self._ctrl.settimeout(None)
        self._reader = threading.Thread(target=self._read_ctrl, name="baresip-ctrl", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        if self._ctrl is not None:
            with contextlib.suppress(OSError):
                self._ctrl.shutdown(socket.SHUT_RDWR)
            self._ctrl.close()
            self._ctrl = None
        super().stop()
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None

    # -- ctrl_tcp -----------------------------------------------------------------------------

    def _read_ctrl(self) -> None:
        """Split the ctrl_tcp stream into netstrings (``LEN:JSON,``) and queue each."""
        ctrl = self._ctrl
        assert ctrl is not None
        buffer = b""
        while True:
            try:
                data = ctrl.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer += data
            while b":" in buffer:
                length_text, _, rest = buffer.partition(b":")
                length = int(length_text)
                if len(rest) < length + 1:
                    break
                message = json.loads(rest[:length])
                buffer = rest[length + 1:]  # the trailing ","
                self._incoming.put(message)

    def command(self, name: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Send one ctrl_tcp command and wait for its response (events seen meanwhile go
        to :attr:`events`); raises when baresip answers ``ok: false``."""
        if self._ctrl is None:
            raise BaresipError("baresip is not running")
        self._tokens += 1
        token = f"t{self._tokens}"
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        self._ctrl.sendall(str(len(body)).encode() + b":" + body + b",")
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline, f"the response to {name}")
            if message.get("response") and message.get("token") == token:
                if not message.get("ok"):
                    raise BaresipError(f"baresip refused {name} {params!r}: {message.get('data')}")
                return message

    def _next(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            message = self._incoming.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise BaresipError(f"baresip: no {waiting_for} in time:\n{self.log_text()[-4000:]}") from None
        if message.get("event"):
            message["at"] = time.monotonic()
            self.events.append(message)
        return message

    def wait_event(self, types: set[str], deadline: float) -> dict[str, Any]:
        """The next event whose ``type`` is in ``types`` (raises at ``deadline``)."""
        while True:
            message = self._next(deadline, "/".join(sorted(types)))
            if message.get("event") and message.get("type") in types:
                return message

    # -- calls --------------------------------------------------------------------------------

    def call(
        self,
        uri: str,
        *,
        hangup_after: float | None = None,
        answer_timeout: float = 20.0,
        call_timeout: float = 120.0,
    ) -> CallRecord:
        """Dial ``uri``; once answered, the WAV plays from its start; hang up
        ``hangup_after`` seconds after the answer (None: when the WAV ends, by aufile's
        end of file, up to about a second after its last sample; or when the far end
        hangs up).
        Returns when the call has ended.  A call that is refused or never answered comes
        back with ``established`` False and baresip's reason."""
        record = CallRecord(uri, time.monotonic())
        first_event = len(self.events)
        self.command("dial", uri)
        end = {"CALL_CLOSED"}
        try:
            event = self.wait_event({"CALL_ESTABLISHED"} | end, time.monotonic() + answer_timeout)
        except BaresipError:
            with contextlib.suppress(BaresipError):
                self.command("hangup")
            raise
        if event["type"] == "CALL_ESTABLISHED":
            record.established_at = event["at"]
            limit = record.established_at + (call_timeout if hangup_after is None else hangup_after)
            try:
                event = self.wait_event(end, limit)
            except BaresipError:
                # baresip 1.0 sends BYE but reports no CALL_CLOSED for its own hang-up
                record.hung_up_by_us = True
                self.command("hangup")
                event = {"type": "CALL_CLOSED", "param": "hung up by the test", "at": time.monotonic()}
        record.closed_at = event["at"]
        record.closed_reason = str(event.get("param", ""))
        record.events = self.events[first_event:]
        return record
