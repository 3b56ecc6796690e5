"""Fixtures for the simulated network tests: test pages, page comparison, serial helpers."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import serial
from PIL import Image

from modem.sim.spandsp import spandsp_available

needs_spandsp = pytest.mark.skipif(not spandsp_available(), reason="libspandsp2 not installed")
needs_efax = pytest.mark.skipif(shutil.which("efax") is None or shutil.which("efix") is None,
                                reason="efax not installed")
needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="ghostscript not installed")

PAGE_PS = """%!PS
/Helvetica findfont 14 scalefont setfont
0 1 40 { /i exch def 72 780 i 18 mul sub moveto
  (umfax simulated network test page - line ) show i 3 string cvs show } for
5 setlinewidth 100 100 300 200 rectstroke
/Courier findfont 40 scalefont setfont 120 160 moveto (SIM) show
showpage
"""


@pytest.fixture(scope="session")
def page_tiff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-page TIFF-F (G3 1-D, 204x98 dpi, A4, min-is-white) made by Ghostscript."""
    if shutil.which("gs") is None:
        pytest.skip("ghostscript not installed")
    d = tmp_path_factory.mktemp("pages")
    ps = d / "page.ps"
    ps.write_text(PAGE_PS)
    out = d / "page.tif"
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sPAPERSIZE=a4", "-dFIXEDMEDIA",
         "-r204x98", "-sDEVICE=tiffg3", f"-sOutputFile={out}", str(ps)],
        check=True, timeout=30,
    )
    return out


@pytest.fixture(scope="session")
def two_page_tiff(page_tiff: Path) -> Path:
    """Two pages: the test page, then the same page upside down."""
    out = page_tiff.with_name("two.tif")
    ps = page_tiff.with_name("page.ps")
    flipped = page_tiff.with_name("flipped.ps")
    flipped.write_text(PAGE_PS.replace("%!PS\n", "%!PS\n595 842 translate 180 rotate\n"))
    subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sPAPERSIZE=a4", "-dFIXEDMEDIA",
         "-r204x98", "-sDEVICE=tiffg3", f"-sOutputFile={out}", str(ps), str(flipped)],
        check=True, timeout=30,
    )
    return out


def tiff_bitmap(path: Path, page: int = 0) -> np.ndarray:
    """Page ``page`` of a TIFF as a boolean array, True = black."""
    with Image.open(path) as im:
        im.seek(page)
        a = np.array(im.convert("L"))
    return a < 128


def efax_page_bitmap(path: Path, work: Path) -> np.ndarray:
    """A page efax received (its own TIFF flavour), decoded with efix, True = black."""
    pbm = work / (path.name + ".pbm")
    with pbm.open("wb") as f:
        subprocess.run(["efix", "-o", "pbm", str(path)], stdout=f, stderr=subprocess.DEVNULL,
                       check=True, timeout=30)
    with Image.open(pbm) as im:
        return np.array(im.convert("L")) < 128


def matching_rows(sent: np.ndarray, got: np.ndarray, skip_top: int = 40) -> tuple[int, int]:
    """Align ``got`` to ``sent`` (a DTE may add a header of a few rows at the top).

    Returns (rows identical at the best offset, rows compared), ignoring the top
    ``skip_top`` rows of ``sent``.
    """
    assert sent.shape[1] == got.shape[1], (sent.shape, got.shape)
    best = (0, 0)
    for off in range(-30, 31):
        lo = max(skip_top, -off)
        hi = min(len(sent), len(got) - off)
        if hi <= lo:
            continue
        same = int((sent[lo:hi] == got[lo + off : hi + off]).all(axis=1).sum())
        if same > best[0]:
            best = (same, hi - lo)
    return best


class ATPort:
    """A tiny AT command helper over pyserial, for tests only."""

    def __init__(self, device: str) -> None:
        self.ser = serial.serial_for_url(device, timeout=0.05)
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        self.ser.write(data)

    def cmd(self, command: str, timeout: float = 5.0,
            finals: tuple[str, ...] = ("OK", "ERROR", "CONNECT", "NO CARRIER", "BUSY",
                                       "NO ANSWER", "NO DIALTONE", "+FCERROR")) -> list[str]:
        self.ser.write(command.encode() + b"\r")
        return self.until(finals, timeout)

    def until(self, finals: tuple[str, ...], timeout: float = 5.0) -> list[str]:
        """Lines read until one of ``finals`` (inclusive); raises TimeoutError."""
        end = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < end:
            self.buf.extend(self.ser.read(256))
            while b"\r\n" in self.buf or b"\r" in self.buf:
                i = self.buf.find(b"\r")
                line = bytes(self.buf[:i]).decode("latin-1").strip()
                del self.buf[: i + 1]
                if self.buf.startswith(b"\n"):
                    del self.buf[:1]
                if not line:
                    continue
                lines.append(line)
                if line in finals:
                    return lines
        raise TimeoutError(f"no {finals} within {timeout}s; got {lines!r} + {bytes(self.buf)!r}")

    def close(self) -> None:
        self.ser.close()


@pytest.fixture
def at_ports() -> Iterator[list[ATPort]]:
    ports: list[ATPort] = []
    yield ports
    for p in ports:
        p.close()
