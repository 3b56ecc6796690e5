"""HylaFAX (Debian ``hylafax-server`` 6.0.7) as a receiving fax peer on an iaxmodem pty.

Runs ``faxq -q SPOOL -D`` and ``faxgetty -q SPOOL DEVICE`` on a private spool under the
test's work dir; no init script (it bind-mounts and uses killall), no faxaddmodem (it
hangs probing iaxmodem), nothing under /var/spool/hylafax or /etc/hylafax is modified.

Measured here: faxgetty needs ~10 s from start to "Running and idle" (modem probing and
reset); the devid is the device path with ``/`` replaced by ``_`` (``/tmp/umfp-x/ttyB`` →
``_tmp_umfp-x_ttyB``); the modem config is ``SPOOL/etc/config.<devid>``. There is no syslog
here, so ServerTracing output is lost; session logs are in ``SPOOL/log/c<commid>`` and
``SPOOL/etc/xferfaxlog``. Received faxes land in ``SPOOL/recvq/faxNNNNNNNNN.tif``
(multi-page TIFF, G3 as received) and ``FaxRcvdCmd`` is pointed at a script that records
each receipt in ``SPOOL/received.tsv``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .efax import EfaxSendResult, efax_send
from .iaxmodem import IaxModemPair
from .procs import LoggedProcess, PeerError, start_logged, tail, wait_until

__all__ = [
    "HylaFax",
    "HylaFaxCall",
    "HylaFaxReceipt",
    "efax_to_hylafax",
    "hylafax_devid",
    "start_hylafax",
]

HYLAFAX_SPOOL = Path("/var/spool/hylafax")
HYLAFAX_ETC = Path("/etc/hylafax")
SPOOL_DIRS = (
    "archive", "bin", "client", "config", "dev", "docq", "doneq", "etc", "info", "lock",
    "log", "pollq", "recvq", "sendq", "status", "tmp",
)  # fmt: skip
ETC_FILES = ("setup.cache", "setup.modem", "dialrules", "pagesizes", "typerules", "lutRS18.pcf")
FAX_USER = "uucp"  # Debian's HylaFAX runs as uucp

RCVD_SCRIPT = """#!/bin/sh
# FaxRcvdCmd: qfile devid commid error-msg cidnumber cidname [destination...]
# One tab-separated line per received fax, written atomically enough for polling.
line=$(printf '%s\\t' "$@")
printf '%s\\n' "$line" >> "$(dirname "$0")/../received.tsv"
"""


def hylafax_devid(device: Path | str) -> str:
    """HylaFAX's device identifier for ``device`` (config.<devid>, FIFO.<devid>…)."""
    dev = str(device)
    if dev.startswith("/dev/"):
        dev = dev[len("/dev/") :]
    return dev.replace("/", "_")


def _modem_config(spool: Path, local_id: str, fax_number: str, rings: int) -> str:
    # ~25 lines after the iaxmodem example for HylaFAX, Class 1.
    return f"""CountryCode: 1
AreaCode: 555
FAXNumber: {fax_number}
LongDistancePrefix: 1
InternationalPrefix: 011
DialStringRules: etc/dialrules
ServerTracing: 0xFFF
SessionTracing: 0xFFF
RecvFileMode: 0644
LogFileMode: 0644
DeviceMode: 0666
UUCPLockDir: {spool / "lock"}
RingsBeforeAnswer: {rings}
SpeakerVolume: off
LocalIdentifier: "{local_id}"
MaxRecvPages: 50
TagLineFont: ""
FaxRcvdCmd: bin/umfax-rcvd
ModemType: Class1
ModemRate: 19200
ModemFlowControl: xonxoff
ModemResetCmds: AT+VCID=1
Class1AdaptRecvCmd: AT+FAR=1
Class1TMConnectDelay: 400
PagerTTYParity: none
CallIDPattern: "NMBR="
CallIDPattern: "NAME="
"""


def make_spool(spool: Path, device: Path, *, local_id: str, fax_number: str, rings: int) -> str:
    """Create a private HylaFAX spool for one modem; returns the devid."""
    if not (HYLAFAX_SPOOL / "bin").is_dir() or not HYLAFAX_ETC.is_dir():
        raise PeerError(f"{HYLAFAX_SPOOL}/bin or {HYLAFAX_ETC} missing: install hylafax-server")
    for d in SPOOL_DIRS:
        (spool / d).mkdir(parents=True, exist_ok=True)
    for src in (HYLAFAX_SPOOL / "bin").iterdir():
        dst = spool / "bin" / src.name
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)
    for name in ETC_FILES:
        if (HYLAFAX_ETC / name).exists():
            shutil.copy2(HYLAFAX_ETC / name, spool / "etc" / name)
    (spool / "etc" / "config").write_text(
        "LogFacility: daemon\nCountryCode: 1\nAreaCode: 555\nLongDistancePrefix: 1\n"
        "InternationalPrefix: 011\nDialStringRules: etc/dialrules\nServerTracing: 0xFFF\n"
    )
    devid = hylafax_devid(device)
    (spool / "etc" / f"config.{devid}").write_text(_modem_config(spool, local_id, fax_number, rings))
    rcvd = spool / "bin" / "umfax-rcvd"
    rcvd.write_text(RCVD_SCRIPT)
    rcvd.chmod(0o755)
    user = pwd.getpwnam(FAX_USER)
    os.chown(spool, user.pw_uid, user.pw_gid)
    for root, dirs, files in os.walk(spool):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), user.pw_uid, user.pw_gid)
    return devid


@dataclass(frozen=True)
class HylaFaxReceipt:
    """One received fax as reported to FaxRcvdCmd."""

    path: Path  # SPOOL/recvq/faxNNNNNNNNN.tif (multi-page TIFF)
    devid: str
    commid: str
    error: str  # empty on success
    cid_number: str
    cid_name: str


@dataclass
class HylaFax:
    """A running HylaFAX (faxq + faxgetty) answering on ``device``."""

    spool: Path
    device: Path
    devid: str
    faxq: LoggedProcess
    faxgetty: LoggedProcess | None = None
    log_dir: Path | None = None

    def start_getty(self, ready_timeout: float = 60.0) -> None:
        """Start faxgetty on ``device``; return when it reports "Running and idle"."""
        if self.faxgetty is not None and self.faxgetty.alive():
            raise PeerError(f"faxgetty already running on {self.device}")
        with contextlib.suppress(FileNotFoundError):  # don't mistake an old status for new
            (self.spool / "status" / self.devid).unlink()
        self.faxgetty = start_logged(
            "faxgetty", ["faxgetty", "-q", str(self.spool), str(self.device)],
            (self.log_dir or self.spool) / "hylafax-faxgetty.log", realtime=True,
        )  # fmt: skip
        wait_until(
            lambda: "idle" in self.status().lower(),
            ready_timeout,
            f"faxgetty on {self.device} never reached 'Running and idle'",
            interval=0.2,
            details=self.describe,
            abort=self._died,
        )

    def stop_getty(self) -> None:
        """Stop faxgetty (e.g. before the iaxmodem under it is restarted)."""
        if self.faxgetty is not None:
            self.faxgetty.stop(term_timeout=10.0)  # it resets the modem on SIGTERM

    def status(self) -> str:
        try:
            return (self.spool / "status" / self.devid).read_text().strip()
        except FileNotFoundError:
            return "<no status file yet>"

    def receipts(self) -> list[HylaFaxReceipt]:
        try:
            text = (self.spool / "received.tsv").read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            f = [*line.split("\t"), "", "", "", "", "", ""][:6]
            out.append(HylaFaxReceipt(self.spool / f[0], f[1], f[2], f[3], f[4], f[5]))
        return out

    def wait_received(self, count: int = 1, timeout: float = 180.0) -> list[HylaFaxReceipt]:
        """Wait until ``count`` faxes were received (FaxRcvdCmd ran); returns them."""
        wait_until(
            lambda: len(self.receipts()) >= count,
            timeout,
            f"HylaFAX on {self.device} did not report {count} received fax(es)",
            interval=0.25,
            details=self.describe,
            abort=self._died,
        )
        return self.receipts()

    def _died(self) -> str | None:
        for p in (self.faxgetty, self.faxq):
            if p is not None and not p.alive():
                return f"{p.name} exited rc={p.proc.returncode}"
        return None

    def session_logs(self, lines: int = 80) -> str:
        parts = [f"--- {log}:\n{tail(log, lines)}" for log in sorted((self.spool / "log").glob("c*"))]
        parts.append(f"--- xferfaxlog:\n{tail(self.spool / 'etc' / 'xferfaxlog', 10)}")
        return "\n".join(parts)

    def describe(self, lines: int = 80) -> str:
        return (
            f"HylaFAX spool {self.spool}, devid {self.devid}, status: {self.status()!r}\n"
            f"{self.faxq.describe(10)}\n"
            f"{self.faxgetty.describe(10) if self.faxgetty else 'faxgetty not started'}\n"
            f"{self.session_logs(lines)}"
        )

    def stop(self) -> None:
        self.stop_getty()
        self.faxq.stop()


@contextlib.contextmanager
def start_hylafax(
    workdir: Path,
    device: Path,
    *,
    local_id: str = "umfax-hylafax",
    fax_number: str = "+1.555.555.1002",
    rings: int = 1,
    ready_timeout: float = 60.0,
) -> Iterator[HylaFax]:
    """Run HylaFAX receiving on ``device`` with a spool in ``workdir/hylafax``.

    Returns once faxgetty reports "Running and idle"; stopped on exit.
    """
    spool = workdir / "hylafax"
    devid = make_spool(spool, device, local_id=local_id, fax_number=fax_number, rings=rings)
    faxq = start_logged("faxq", ["faxq", "-q", str(spool), "-D"], workdir / "hylafax-faxq.log")
    hf = HylaFax(spool, Path(device), devid, faxq, log_dir=workdir)
    try:
        wait_until(
            lambda: (spool / "FIFO").exists(),
            10.0,
            "faxq never created its FIFO",
            details=faxq.describe,
            abort=lambda: None if faxq.alive() else f"faxq exited rc={faxq.proc.returncode}",
        )
        hf.start_getty(ready_timeout)
        yield hf
    finally:
        hf.stop()


@dataclass
class HylaFaxCall:
    """Outcome of ``efax_to_hylafax``."""

    receipt: HylaFaxReceipt
    send: EfaxSendResult
    attempts: int
    seconds: float  # wall time of the successful attempt
    failures: list[str] = field(default_factory=list)


def efax_to_hylafax(
    pair: IaxModemPair,
    hylafax: HylaFax,
    pages: Path | Sequence[Path],
    *,
    number: str = "5551002",
    attempts: int = 2,
    timeout: float = 150.0,
    log_dir: Path | None = None,
) -> HylaFaxCall:
    """efax on ``pair.a`` sends ``pages`` to ``hylafax`` answering on ``pair.b``.

    A failed attempt restarts faxgetty and both iaxmodems (a modem left in data mode
    stays stuck) and tries again, up to ``attempts``; PeerError with all logs otherwise.
    """
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            hylafax.stop_getty()
            pair.restart()
            hylafax.start_getty()
        before = len(hylafax.receipts())
        t0 = time.monotonic()
        send = efax_send(pair.a.device, number, pages, timeout=timeout,
                         log_dir=log_dir or hylafax.spool.parent, check=False)  # fmt: skip
        problem = f"efax rc={send.rc}" if not send.ok else ""
        receipt: HylaFaxReceipt | None = None
        if send.ok:
            try:
                receipt = hylafax.wait_received(before + 1, timeout=60.0)[-1]
            except PeerError as exc:
                problem = f"no receipt: {exc}"
        if receipt is not None and receipt.error:
            problem = f"HylaFAX reports {receipt.error!r}"
        if receipt is not None and not problem:
            return HylaFaxCall(receipt, send, attempt, time.monotonic() - t0, failures)
        failures.append(
            f"attempt {attempt}: {problem}\n{send.log()}\n{hylafax.describe(40)}\n{pair.describe(20)}"
        )
    raise PeerError(f"efax to HylaFAX over iaxmodem failed {attempts} time(s):\n" + "\n".join(failures))
