"""Office documents (DOCX, ODT, RTF, XLSX, PPTX, legacy DOC/XLS/PPT) to PDF through
LibreOffice headless, under a timeout, with a profile private to this process."""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

from umfax.conversion.errors import (
    BrokenDocument,
    ConversionError,
    ConverterTimeout,
    DocumentTooLarge,
    ToolMissing,
)
from umfax.errors import describe_error

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_SUFFIX = {"docx": ".docx", "odt": ".odt", "rtf": ".rtf", "xlsx": ".xlsx", "pptx": ".pptx",
           "ods": ".ods", "odp": ".odp", "ole": ".doc"}
APT_PACKAGES = "libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui"


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _check_zip(name: str, content: bytes, max_unpacked: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            total = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BrokenDocument(f"{name} is damaged (its zip container cannot be read); "
                             "save it again and send the new copy") from exc
    if total > max_unpacked:
        raise DocumentTooLarge(
            f"{name} unpacks to {total:,} bytes, more than the limit of {max_unpacked:,}; "
            "send a smaller document or a PDF")


def office_to_pdf(name: str, content: bytes, kind: str, timeout: float,
                  max_unpacked: int) -> bytes:
    """Convert with LibreOffice; raises ToolMissing when it is not installed."""
    soffice = soffice_path()
    if soffice is None:
        raise ToolMissing(
            f"{name} is an office document ({kind.upper()}) and LibreOffice is not installed "
            f"on the fax server; send a PDF, or ask the administrator to install {APT_PACKAGES}")
    if kind not in ("rtf", "ole"):
        _check_zip(name, content, max_unpacked)
    profile = Path(tempfile.gettempdir()) / f"umfax-lo-profile-{os.getuid()}-{os.getpid()}"
    with _lock, tempfile.TemporaryDirectory(prefix="umfax-office-") as tmp:
        src = Path(tmp) / ("document" + _SUFFIX.get(kind, ".bin"))
        src.write_bytes(content)
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        cmd = [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
               "--nologo", "--nodefault", "--nolockcheck", "--convert-to", "pdf",
               "--outdir", str(out_dir), str(src)]
        logger.info("office conversion", extra={"document": name, "kind": kind})
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=tmp, start_new_session=True,
                                    env={**os.environ, "HOME": tmp})
        except OSError as exc:
            raise ToolMissing(f"LibreOffice could not be started for {name}: {describe_error(exc)}") from exc
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ConverterTimeout(
                f"{name} took longer than {timeout:g} s to convert and was abandoned; "
                "send it as a PDF") from exc
        pdfs = list(out_dir.glob("*.pdf"))
        if proc.returncode != 0 or not pdfs:
            detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise ConversionError(
                f"{name} could not be converted by LibreOffice ({detail[0]}); "
                "the document may be damaged: open it, save a new copy or a PDF, and send that")
        return pdfs[0].read_bytes()
