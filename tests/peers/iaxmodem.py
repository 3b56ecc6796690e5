"""Two iaxmodem instances dialling each other over IAX2 on 127.0.0.1, no PBX.

Facts this relies on (measured on Debian 12, iaxmodem 1.2.0~dfsg-4):

* iaxmodem reads its config only from ``/etc/iaxmodem/NAME``; a NAME climbing out of
  that directory (``../../tmp/umfp-x/iaxA``) lets us keep configs in a temp dir.
* It creates ``device`` as a symlink to ``/dev/pts/N`` and removes it on exit; it drops
  privileges to user uucp, so the directory holding the link must be traversable.
* Right after start the modem answers ``AT`` and accepts calls at once (no busy period
  was measured after start). After ``ATZ`` or a hang-up, the *answering* modem rejects
  incoming calls for about 5 s: the caller sees ``NO DIALTONE``. Therefore the
  readiness probe only sends ``AT`` (never ``ATZ``) and dialers retry on ``NO DIALTONE``.
* Caller ID (``NMBR=``/``NAME=`` before ``RING``) is only reported after ``AT+VCID=1``.
* A modem left in data mode after the far end dropped stays stuck until restart: use
  fresh instances per test (``start_iaxmodem_pair`` / the ``iaxmodem_pair`` fixture).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .modem_io import at_command
from .procs import LoggedProcess, PeerError, free_udp_ports, start_logged, wait_until

__all__ = [
    "IaxModem",
    "IaxModemPair",
    "start_iaxmodem",
    "start_iaxmodem_pair",
]

IAXMODEM_ETC = Path("/etc/iaxmodem")
PTY_TIMEOUT = 10.0
AT_TIMEOUT = 10.0


@dataclass
class IaxModem:
    """One running iaxmodem instance."""

    label: str
    device: Path  # symlink to /dev/pts/N created by iaxmodem
    port: int
    peer_port: int
    config_path: Path
    process: LoggedProcess
    cid_name: str
    cid_number: str
    ready_after: float = 0.0  # seconds from start until AT answered OK

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    @property
    def pts(self) -> Path:
        """The real /dev/pts/N behind ``device`` (for tools that want a /dev path)."""
        return Path(os.path.realpath(self.device))

    def alive(self) -> bool:
        return self.process.alive()

    def describe(self, lines: int = 60) -> str:
        return (
            f"iaxmodem {self.label}: device {self.device} udp {self.port} -> {self.peer_port}\n"
            + self.process.describe(lines)
        )

    def stop(self) -> None:
        self.process.stop()


def _config_text(device: Path, port: int, peer_port: int, cid_name: str, cid_number: str, debug: bool) -> str:
    lines = [
        f"device {device}",
        "owner uucp:uucp",
        "mode 666",
        f"port {port}",
        "refresh 0",
        f"server 127.0.0.1:{peer_port}",
        "peername umfax",
        "secret umfax",
        f"cidname {cid_name}",
        f"cidnumber {cid_number}",
        "codec slinear",
    ]
    if debug:
        lines += ["iax2debug", "dspdebug"]
    return "\n".join(lines) + "\n"


def _config_name(config_path: Path) -> str:
    """The NAME argument that makes iaxmodem read ``config_path`` via /etc/iaxmodem/NAME."""
    if not IAXMODEM_ETC.is_dir():
        raise PeerError(
            f"{IAXMODEM_ETC} does not exist; iaxmodem resolves its config name relative to it "
            "(is the iaxmodem package installed?)"
        )
    depth = len(IAXMODEM_ETC.resolve().parts) - 1  # climb to /
    return "/".join([".."] * depth) + str(config_path.resolve())


def start_iaxmodem(
    workdir: Path,
    label: str,
    port: int,
    peer_port: int,
    *,
    cid_name: str | None = None,
    cid_number: str | None = None,
    debug: bool = False,
    ready_timeout: float = AT_TIMEOUT,
) -> IaxModem:
    """Start one iaxmodem and wait until its pty exists and answers ``AT`` with OK."""
    device = workdir / f"tty{label}"
    config_path = workdir / f"iax{label}"
    cid_name = cid_name or f"Peer {label}"
    cid_number = cid_number or f"55510{ord(label[0]) % 100:02d}"
    config_path.write_text(_config_text(device, port, peer_port, cid_name, cid_number, debug))
    config_path.chmod(0o644)
    proc = start_logged(
        f"iaxmodem {label}",
        ["iaxmodem", _config_name(config_path)],
        workdir / f"iaxmodem-{label}.log",
        realtime=True,
    )
    modem = IaxModem(label, device, port, peer_port, config_path, proc, cid_name, cid_number)
    try:
        _wait_ready(modem, ready_timeout)
    except BaseException:
        proc.stop()
        raise
    return modem


def _wait_ready(modem: IaxModem, timeout: float) -> None:
    start = time.monotonic()

    def died() -> str | None:
        return None if modem.alive() else f"iaxmodem exited rc={modem.process.proc.returncode}"

    wait_until(
        modem.device.exists,  # follows the symlink: the pts must exist too
        PTY_TIMEOUT,
        f"iaxmodem {modem.label} never created {modem.device}",
        details=modem.describe,
        abort=died,
    )
    last: list[str] = []

    def answers_ok() -> bool:
        try:
            text, final = at_command(modem.device, "AT", timeout=1.0)
        except OSError as exc:
            last[:] = [f"open/write failed: {exc}"]
            return False
        last[:] = [repr(text)]
        return final == "OK"

    left = max(1.0, timeout - (time.monotonic() - start))
    wait_until(
        answers_ok,
        left,
        f"iaxmodem {modem.label} on {modem.device} never answered AT with OK",
        interval=0.1,
        details=lambda: f"last response: {last[0] if last else '-'}\n{modem.describe()}",
        abort=died,
    )
    # libiax2 silently binds a random port when the configured one is taken: then the
    # peer's calls go nowhere. Check, so that the caller can retry on other ports.
    bound = bound_udp_ports(modem.process.pid)
    if modem.port not in bound:
        raise PeerError(
            f"iaxmodem {modem.label} bound UDP {sorted(bound)} instead of {modem.port} "
            f"(port taken?)\n{modem.describe()}"
        )
    modem.ready_after = time.monotonic() - start


def bound_udp_ports(pid: int) -> set[int]:
    """Local UDP (IPv4) ports of the sockets process ``pid`` holds."""
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports: set[int] = set()
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 9 and fields[9] in inodes:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class IaxModemPair:
    """Two iaxmodems, ``a`` and ``b``, each configured to call the other.

    ``ATD<anything>`` on one rings the other. ``restart()`` replaces both with fresh
    instances (new ports, same device paths), e.g. before retrying a failed call.
    """

    workdir: Path
    a: IaxModem
    b: IaxModem
    debug: bool = False
    restarts: int = 0

    @property
    def modems(self) -> tuple[IaxModem, IaxModem]:
        return (self.a, self.b)

    def describe(self, lines: int = 60) -> str:
        return "\n".join(m.describe(lines) for m in self.modems)

    def check_alive(self) -> None:
        dead = [m for m in self.modems if not m.alive()]
        if dead:
            raise PeerError("iaxmodem died:\n" + "\n".join(m.describe() for m in dead))

    def stop(self) -> None:
        for m in self.modems:
            m.stop()

    def restart(self) -> None:
        """Kill both instances and start fresh ones on new UDP ports (logs are appended)."""
        self.stop()
        for m in self.modems:
            # iaxmodem removes its symlink on a clean exit, not when killed; the process
            # is gone now, so a leftover link is stale and must not pass for the new one
            if m.device.is_symlink():
                m.device.unlink()
            with open(m.log_path, "a") as log:
                log.write(f"==== umfax peers: restart #{self.restarts + 1} ====\n")
        self.restarts += 1
        self.a, self.b = _start_both(self.workdir, self.debug)


def _start_both(workdir: Path, debug: bool, attempts: int = 3) -> tuple[IaxModem, IaxModem]:
    error: PeerError | None = None
    for _ in range(attempts):  # a port grabbed between probe and bind: just try new ports
        pa, pb = free_udp_ports(2)
        a: IaxModem | None = None
        try:
            a = start_iaxmodem(workdir, "A", pa, pb, cid_name="Peer A", cid_number="5551001", debug=debug)
            b = start_iaxmodem(workdir, "B", pb, pa, cid_name="Peer B", cid_number="5551002", debug=debug)
            return a, b
        except PeerError as exc:
            error = exc
            if a is not None:
                a.stop()
    assert error is not None
    raise error


@contextlib.contextmanager
def start_iaxmodem_pair(workdir: Path, *, debug: bool = False) -> Iterator[IaxModemPair]:
    """Start a ready iaxmodem pair in ``workdir`` (short, traversable); always killed after.

    Raises PeerError (with iaxmodem logs) if either does not come up within ~10 s.
    """
    a, b = _start_both(workdir, debug)
    pair = IaxModemPair(workdir, a, b, debug=debug)
    try:
        yield pair
    finally:
        pair.stop()
