"""efax (Class 1 on iaxmodem) as a sending and a receiving fax peer.

* ``efax_receive(pty, outdir)`` starts ``efax -d PTY -w -iS0=1 -r PREFIX`` and returns once
  efax is armed ("waiting for activity"); it writes PREFIX.001, PREFIX.002… (one G3 TIFF
  per page, see faximage.py).
* ``efax_send(pty, number, tiff)`` runs ``efax -d PTY -t NUMBER FILE…`` to completion.
  It redials while the far modem rejects the call (the modem answers the dial with
  ``NO DIALTONE`` — efax then exits 2, "unrecoverable" — or ``BUSY``): iaxmodem rejects
  calls for ~5 s after the answering side did ATZ or hung up.
* ``efax_call(pair, pages, outdir)`` does both over an iaxmodem pair and, because
  iaxmodem calls are sometimes flaky, retries once on fresh iaxmodem instances. A
  diagnostic of the harness, in no test: efax to efax loses a race in efax's own CFR
  timing (README.md, "efax to efax").

efax exit codes: 0 ok, 1 busy/in use, 2 fatal (file), 3 modem protocol error, 4 modem
not responding, 5 terminated by a signal.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .faximage import received_pages
from .iaxmodem import IaxModemPair
from .procs import LoggedProcess, PeerError, start_logged, tail, wait_until

__all__ = [
    "EfaxCall",
    "EfaxReceiver",
    "EfaxSendResult",
    "efax_call",
    "efax_receive",
    "efax_send",
]

EFAX_VERBOSITY = "ewincr"  # errors, warnings, progress, negotiation, AT commands, rx errors
EFAX_RC = {
    0: "success",
    1: "busy or device in use",
    2: "fatal error (file not found, disk full…)",
    3: "modem protocol error",
    4: "modem not responding",
    5: "terminated by a signal",
}
# Dial results meaning "the far iaxmodem refused the call" (efax then exits 2 for
# NO DIALTONE, 1 for BUSY); only these are redialled, never a failure after connecting.
_REJECTED = ('response "NO DIALTONE"', 'response "BUSY"')

_counter = 0


def _next_log(directory: Path, stem: str) -> Path:
    global _counter
    _counter += 1
    return directory / f"{stem}-{_counter}.log"


@dataclass
class EfaxReceiver:
    """A running ``efax -w -r`` receiver. Context manager: stopped on exit."""

    process: LoggedProcess
    prefix: Path
    device: Path

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        """The underlying ``subprocess.Popen``."""
        return self.process.proc

    @property
    def log_path(self) -> Path:
        return self.process.log_path

    def log(self, lines: int = 80) -> str:
        return self.process.log(lines)

    def pages(self) -> list[Path]:
        return received_pages(self.prefix)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for efax to finish (it exits after one call); returns its exit code."""
        return self.process.wait(timeout)

    def stop(self) -> int | None:
        return self.process.stop(term_timeout=8.0)  # efax hangs up the modem on SIGTERM

    def __enter__(self) -> EfaxReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def efax_receive(
    pty: Path,
    outdir: Path,
    *,
    prefix: str = "fax",
    local_id: str = "5551002",
    rings: int = 1,
    ready_timeout: float = 15.0,
    extra_args: Sequence[str] = (),
) -> EfaxReceiver:
    """Start efax waiting for a call on ``pty``; return when it is armed.

    Pages land in ``outdir/PREFIX.001`` … (``-r`` takes a strftime pattern: ``%`` in the
    path is escaped here).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    pfx = outdir / prefix
    argv = [
        "efax", "-d", str(pty), "-v", EFAX_VERBOSITY, "-l", local_id,
        "-w", f"-iS0={rings}", *extra_args, "-r", str(pfx).replace("%", "%%"),
    ]  # fmt: skip
    process = start_logged("efax receiver", argv, _next_log(outdir, "efax-receive"), realtime=True)
    rx = EfaxReceiver(process, pfx, Path(pty))
    try:
        wait_until(
            lambda: "waiting for activity" in tail(process.log_path, 5),
            ready_timeout,
            f"efax receiver on {pty} never got to 'waiting for activity'",
            interval=0.1,
            details=process.describe,
            abort=lambda: None if process.alive() else f"efax exited rc={process.proc.returncode}",
        )
    except BaseException:
        process.stop()
        raise
    return rx


@dataclass
class EfaxSendResult:
    rc: int
    attempts: int  # dial attempts (redials after a rejected call included)
    seconds: float
    log_paths: list[Path]

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def log(self, lines: int = 80) -> str:
        return "\n".join(f"--- {p}:\n{tail(p, lines)}" for p in self.log_paths)


def efax_send(
    pty: Path,
    number: str,
    tiff_path: Path | Sequence[Path],
    *,
    header: str = "",
    local_id: str = "5551001",
    timeout: float = 300.0,
    redial_window: float = 30.0,
    log_dir: Path | None = None,
    check: bool = True,
    extra_args: Sequence[str] = (),
) -> EfaxSendResult:
    """Send TIFF-F file(s) with ``efax -t NUMBER`` on ``pty``; blocks until done.

    ``header=""`` keeps efax's page header blank (efax still adds ~20 white rows on top).
    Redials within ``redial_window`` seconds while the far end rejects the call. With
    ``check`` a non-zero exit raises PeerError carrying efax's log.
    """
    files = [tiff_path] if isinstance(tiff_path, Path | str) else list(tiff_path)
    log_dir = log_dir or Path(files[0]).parent
    argv = [
        "efax", "-d", str(pty), "-v", EFAX_VERBOSITY, "-l", local_id, "-h", header,
        *extra_args, "-t", number, *map(str, files),
    ]  # fmt: skip
    start = time.monotonic()
    logs: list[Path] = []
    attempts = 0
    while True:
        attempts += 1
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            raise PeerError(f"efax send to {number} timed out after {timeout:g} s")
        process = start_logged("efax sender", argv, _next_log(log_dir, "efax-send"), realtime=True)
        logs.append(process.log_path)
        try:
            rc = process.wait(left)
        finally:
            process.stop()
        log = tail(process.log_path, 200)
        rejected = rc != 0 and "connected" not in log and any(r in log for r in _REJECTED)
        if rejected and time.monotonic() - start < redial_window:
            time.sleep(1.0)
            continue
        break
    result = EfaxSendResult(rc, attempts, time.monotonic() - start, logs)
    if check and rc != 0:
        raise PeerError(
            f"efax send to {number} via {pty} failed: rc={rc} ({EFAX_RC.get(rc, '?')}) "
            f"after {attempts} dial attempt(s)\n{result.log()}"
        )
    return result


@dataclass
class EfaxCall:
    """Outcome of ``efax_call``."""

    pages: list[Path]  # received page files of the successful attempt
    attempts: int
    seconds: float  # wall time of the successful attempt
    send: EfaxSendResult
    receiver_rc: int
    failures: list[str] = field(default_factory=list)  # reports of failed attempts


def efax_call(
    pair: IaxModemPair,
    pages: Sequence[Path],
    outdir: Path,
    *,
    attempts: int = 2,
    number: str = "5551002",
    header: str = "",
    timeout: float = 300.0,
) -> EfaxCall:
    """efax on ``pair.a`` sends ``pages`` to efax receiving on ``pair.b``.

    A failed attempt (either side non-zero, or page count wrong) restarts both iaxmodems
    and tries again, up to ``attempts`` in total. Raises PeerError with all logs if none
    succeeds.
    """
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            pair.restart()
        rx_dir = outdir / f"attempt{attempt}"
        t0 = time.monotonic()
        with efax_receive(pair.b.device, rx_dir) as rx:
            send = efax_send(
                pair.a.device, number, pages, header=header, timeout=timeout, log_dir=rx_dir, check=False
            )
            try:
                # after a failed send the receiver may still wait for a call: don't wait long
                rx_rc = rx.wait(timeout=60.0 if send.ok else 5.0)
            except PeerError as exc:
                rx_rc = -1
                failures.append(f"attempt {attempt}: receiver hung: {exc}")
            got = rx.pages()
            seconds = time.monotonic() - t0
            if send.ok and rx_rc == 0 and len(got) == len(pages):
                return EfaxCall(got, attempt, seconds, send, rx_rc, failures)
            failures.append(
                f"attempt {attempt}: send rc={send.rc}, receive rc={rx_rc}, "
                f"{len(got)}/{len(pages)} pages after {seconds:.1f} s\n"
                f"{send.log()}\n--- receiver:\n{rx.log()}\n{pair.describe(30)}"
            )
    raise PeerError(f"efax to efax over iaxmodem failed {attempts} time(s):\n" + "\n".join(failures))
