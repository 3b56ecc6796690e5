"""Process plumbing shared by the peer fixtures: logged children, bounded waits, cleanup.

Every child started here is registered so that it is killed even when a test is
interrupted between start and teardown (``atexit`` safety net).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "LoggedProcess",
    "PeerError",
    "free_udp_ports",
    "peer_workdir",
    "require_binaries",
    "start_logged",
    "tail",
    "wait_until",
]

# Short, traversable base: pytest's tmp_path is 0700 and long, and iaxmodem (which drops
# to user uucp) and HylaFAX (user uucp too) must be able to reach the ptys and spool.
WORKDIR_BASE = Path("/tmp")
KEEP_ENV = "UMFAX_PEERS_KEEP"
# iaxmodem and Class 1 DTEs are real-time (efax must answer within 55 ms, iaxmodem must
# feed spandsp's modem 20 ms of audio every 20 ms); on a loaded 2-core machine they lose
# timing and calls fail ("flow control did not work", pages with reception errors and
# RTN). A nice value of -10 was not enough when the tests ran beside tesseract on both
# cores: real-time peers run under SCHED_RR at UMFAX_PEERS_RT_PRIORITY (root only; the
# kernel's RT throttling still leaves 5 % to everything else), falling back to the nice
# value UMFAX_PEERS_NICE. Either set to 0 turns that step off.
PEER_RT_PRIORITY = int(os.environ.get("UMFAX_PEERS_RT_PRIORITY", "10"))
PEER_NICE = int(os.environ.get("UMFAX_PEERS_NICE", "-10"))


class PeerError(AssertionError):
    """A third-party peer did not behave; the message carries the relevant log tails."""


def tail(path: Path | None, lines: int = 60) -> str:
    """Last ``lines`` lines of a log file, or a note that it is missing/empty."""
    if path is None:
        return "<no log>"
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"<{path} does not exist>"
    if not text.strip():
        return f"<{path} is empty>"
    chunk = text.splitlines()[-lines:]
    return "\n".join(chunk)


@dataclass
class LoggedProcess:
    """A child process whose stdout+stderr go to ``log_path``."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def describe(self, lines: int = 60) -> str:
        state = "running" if self.alive() else f"exited rc={self.proc.returncode}"
        return (
            f"--- {self.name} (pid {self.pid}, {state}): {' '.join(self.argv)}\n"
            f"--- log {self.log_path}:\n{self.log(lines)}"
        )

    def wait(self, timeout: float) -> int:
        """Wait for exit; on timeout kill it and raise PeerError with the log."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise PeerError(f"{self.name} did not finish within {timeout:.0f} s\n{self.describe()}") from None

    def stop(self, term_timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after ``term_timeout``; idempotent. Returns the exit code.

        Signals go to the child's whole process group (it was started in a new session),
        so helpers it forked die with it.
        """
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=term_timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._signal_group(signal.SIGKILL)  # stragglers of the group, if any
        _LIVE.discard(self)
        return self.proc.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def __hash__(self) -> int:
        return id(self)


_LIVE: set[LoggedProcess] = set()


@atexit.register
def _kill_leftovers() -> None:  # pragma: no cover - safety net only
    for p in list(_LIVE):
        with contextlib.suppress(Exception):
            p.stop(term_timeout=1.0)


def start_logged(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    realtime: bool = False,
) -> LoggedProcess:
    """Start ``argv`` with stdout and stderr appended to ``log_path``.

    ``realtime`` runs it under SCHED_RR at PEER_RT_PRIORITY, or else at nice PEER_NICE
    (when permitted; threads it starts later inherit either).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,  # keep terminal signals away; we stop it ourselves
        )
    lp = LoggedProcess(name=name, argv=list(argv), proc=proc, log_path=log_path)
    _LIVE.add(lp)
    if realtime:
        _raise_priority(proc.pid)
    return lp


def _raise_priority(pid: int) -> None:
    """SCHED_RR if we may, else a lower nice value, else nothing (not root, or gone)."""
    if PEER_RT_PRIORITY:
        try:
            os.sched_setscheduler(pid, os.SCHED_RR, os.sched_param(PEER_RT_PRIORITY))
            return
        except OSError:
            pass
    if PEER_NICE:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, PEER_NICE)


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    interval: float = 0.05,
    details: Callable[[], str] | None = None,
    abort: Callable[[], str | None] | None = None,
) -> float:
    """Poll ``predicate`` until true; returns the seconds waited.

    Raises PeerError("<what> within <timeout> s; <details()>") on timeout, or as soon as
    ``abort()`` returns a reason (e.g. the process we wait on has died).
    """
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if predicate():
            return time.monotonic() - start
        reason = abort() if abort else None
        if reason:
            extra = f"\n{details()}" if details else ""
            raise PeerError(f"{what}: gave up, {reason}{extra}")
        if time.monotonic() >= deadline:
            extra = f"\n{details()}" if details else ""
            raise PeerError(f"{what} within {timeout:g} s{extra}")
        time.sleep(interval)


def free_udp_ports(count: int) -> list[int]:
    """``count`` distinct UDP ports free on 0.0.0.0 (iaxmodem binds the wildcard address)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.contextmanager
def peer_workdir(prefix: str = "umfp-") -> Iterator[Path]:
    """A short, world-traversable temp dir under /tmp, removed afterwards.

    Set UMFAX_PEERS_KEEP=1 to keep it for post-mortem.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=WORKDIR_BASE))
    path.chmod(0o755)
    try:
        yield path
    finally:
        if os.environ.get(KEEP_ENV) != "1":
            shutil.rmtree(path, ignore_errors=True)


def require_binaries(*names: str) -> list[str]:
    """Names from ``names`` that are not on PATH (empty list: all present)."""
    return [n for n in names if shutil.which(n) is None]
