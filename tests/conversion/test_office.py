"""Office documents through LibreOffice (skipped, with the reason, when it is missing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conversion import makers
from umfax.conversion import ConversionOptions, ToolMissing, convert_documents, page_bitmap
from umfax.conversion.detect import detect

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui "
           "libreoffice-calc-nogui libreoffice-impress-nogui")


FLAT_ODP = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation">
 <office:body><office:presentation><draw:page draw:name="p1">
  <draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="6cm"><draw:text-box>
   <text:p>Sales slide: revenue up twelve percent</text:p></draw:text-box></draw:frame>
 </draw:page></office:presentation></office:body></office:document>
"""


def _ink(pages: list) -> float:  # type: ignore[type-arg]
    return float(np.mean([np.unpackbits(page_bitmap(p)).mean() for p in pages]))


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """DOCX and RTF written by hand; ODT, XLSX and PPTX made from them by LibreOffice."""
    folder = tmp_path_factory.mktemp("office")
    files = {"docx": makers.docx(["Quarterly report", "Revenue grew in every region."]),
             "rtf": makers.rtf("Hello from RTF")}
    if SOFFICE is None:
        return files
    (folder / "doc.docx").write_bytes(files["docx"])
    (folder / "sheet.csv").write_text("Item,Amount\nWidgets,42\nGadgets,17\n")
    profile = f"-env:UserInstallation=file://{folder}/profile"
    run = [SOFFICE, profile, "--headless", "--norestore"]
    out = ["--outdir", str(folder)]
    subprocess.run([*run, "--convert-to", "odt", *out, str(folder / "doc.docx")], check=True,
                   capture_output=True, timeout=120)
    subprocess.run([*run, "--convert-to", "xlsx", *out, str(folder / "sheet.csv")],
                   check=True, capture_output=True, timeout=120)
    (folder / "slides.fodp").write_text(FLAT_ODP)
    subprocess.run([*run, "--convert-to", "pptx", *out, str(folder / "slides.fodp")],
                   check=True, capture_output=True, timeout=120)
    for kind, name in (("odt", "doc.odt"), ("xlsx", "sheet.xlsx"), ("pptx", "slides.pptx")):
        if (folder / name).exists():
            files[kind] = (folder / name).read_bytes()
    return files


def test_office_formats_detected_by_content(office_files: dict[str, bytes]) -> None:
    for kind, content in office_files.items():
        assert detect(content) == ("office", kind)


@needs_soffice
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["docx", "odt", "rtf", "xlsx", "pptx"])
def test_office_document_converts(office_files: dict[str, bytes], kind: str) -> None:
    if kind not in office_files:
        pytest.skip(f"LibreOffice could not make a {kind} sample here")
    pages = convert_documents([(f"file.{kind}", office_files[kind])], ConversionOptions())
    assert pages and all(p.width == 1728 for p in pages)
    assert _ink(pages) > 0.0005


def test_missing_libreoffice_names_the_tool(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no soffice to be found
    with pytest.raises(ToolMissing) as err:
        convert_documents([("letter.docx", makers.docx(["hi"]))], ConversionOptions())
    message = str(err.value)
    assert "letter.docx" in message and "LibreOffice" in message
    assert "libreoffice-writer-nogui" in message
