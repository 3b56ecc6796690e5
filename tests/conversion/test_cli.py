"""``umfax convert`` through typer's CliRunner on an app built with ``register``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from PIL import Image
from typer.testing import CliRunner

from tests.conversion import makers
from umfax.cli.convert import register
from umfax.conversion import tiff_to_pages


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def version() -> None:  # a second command so typer keeps sub-command names
        typer.echo("0")

    return app


def test_convert_documents_to_tiff_with_cover(tmp_path: Path) -> None:
    (tmp_path / "memo.txt").write_text("Hello from the command line\n")
    (tmp_path / "doc.pdf").write_bytes(makers.pdf([makers.text_page(["pdf page"])]))
    out = tmp_path / "out.tif"
    result = CliRunner().invoke(_app(), [
        "convert", str(tmp_path / "memo.txt"), str(tmp_path / "doc.pdf"), "-o", str(out),
        "--resolution", "standard", "--encoding", "mh", "--paper", "a4", "--cover",
        "--to", "Jane", "--from", "John", "--subject", "Test", "--header", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["pages"] == 3 and summary["encoding"] == "mh"
    pages = tiff_to_pages(out.read_bytes())
    assert len(pages) == 3 and all(p.y_res == 98.0 and p.encoding == "mh" for p in pages)


def test_convert_fax_tiff_to_pdf_and_png(tmp_path: Path) -> None:
    (tmp_path / "memo.txt").write_text("page\fpage two\n")
    tif = tmp_path / "fax.tif"
    runner = CliRunner()
    assert runner.invoke(_app(), ["convert", str(tmp_path / "memo.txt"), "-o",
                                  str(tif)]).exit_code == 0
    pdf = tmp_path / "fax.pdf"
    result = runner.invoke(_app(), ["convert", str(tif), "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF") and b"/CCITTFaxDecode" in pdf.read_bytes()
    png = tmp_path / "first.png"
    assert runner.invoke(_app(), ["convert", str(tif), "-o", str(png)]).exit_code == 0
    with Image.open(png) as im:
        assert im.format == "PNG"


def test_convert_reports_errors_for_the_sender(tmp_path: Path) -> None:
    bad = tmp_path / "empty.pdf"
    bad.write_bytes(b"")
    result = CliRunner().invoke(_app(), ["convert", str(bad), "-o", str(tmp_path / "x.tif")])
    assert result.exit_code == 1
    assert "empty.pdf is empty" in result.output
    (tmp_path / "a.txt").write_text("x")
    result = CliRunner().invoke(_app(), ["convert", str(tmp_path / "a.txt"), "-o",
                                         str(tmp_path / "x.doc")])
    assert result.exit_code == 1 and ".tif" in result.output
