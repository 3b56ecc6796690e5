"""Tiny AT-command client for a modem pty (used for readiness probes and raw dialling)."""

from __future__ import annotations

import contextlib
import os
import select
import time
import tty
from collections.abc import Iterator
from pathlib import Path

__all__ = ["FINAL_RESULTS", "ModemPort", "at_command"]

FINAL_RESULTS: tuple[str, ...] = (
    "OK",
    "ERROR",
    "CONNECT",
    "NO CARRIER",
    "BUSY",
    "NO DIALTONE",
    "NO ANSWER",
)


class ModemPort:
    """Raw, non-blocking access to a modem pty. Use as a context manager."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        self.transcript = ""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> ModemPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_available(self, wait: float = 0.0) -> str:
        """Whatever is readable now (waiting up to ``wait`` s for the first byte)."""
        out = b""
        r, _, _ = select.select([self.fd], [], [], wait)
        while r:
            try:
                chunk = os.read(self.fd, 4096)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            out += chunk
            r, _, _ = select.select([self.fd], [], [], 0)
        text = out.decode("latin-1")
        self.transcript += text
        return text

    def read_until(self, needles: tuple[str, ...], timeout: float) -> tuple[str, str | None]:
        """Read until a line equal to one of ``needles`` arrives; returns (text, needle)."""
        deadline = time.monotonic() + timeout
        buf = ""
        while True:
            for line in buf.replace("\r", "\n").split("\n"):
                if line.strip() in needles:
                    return buf, line.strip()
            left = deadline - time.monotonic()
            if left <= 0:
                return buf, None
            buf += self.read_available(wait=min(left, 0.1))

    def command(self, cmd: str, timeout: float = 3.0) -> tuple[str, str | None]:
        """Send ``cmd`` (with or without the AT prefix); returns (response, final result)."""
        if not cmd.upper().startswith("AT"):
            cmd = "AT" + cmd
        self.read_available()  # drop stale output
        self.transcript += f"\n>> {cmd}\n"
        os.write(self.fd, cmd.encode("ascii") + b"\r")
        return self.read_until(FINAL_RESULTS, timeout)


@contextlib.contextmanager
def _port(path: Path | str) -> Iterator[ModemPort]:
    port = ModemPort(path)
    try:
        yield port
    finally:
        port.close()


def at_command(path: Path | str, cmd: str, timeout: float = 3.0) -> tuple[str, str | None]:
    """Open ``path``, send one AT command, return (response text, final result or None)."""
    with _port(path) as port:
        return port.command(cmd, timeout)
