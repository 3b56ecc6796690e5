"""Documents to fax pages: every input type, papers, resolutions, cover, header."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tests.conversion import makers
from umfax.conversion import (
    ConversionOptions,
    CoverInfo,
    FaxPage,
    HeaderInfo,
    TemplateError,
    convert_documents,
    page_bitmap,
    pages_to_tiff,
    t4_strip,
)
from umfax.conversion.raster import place
from umfax.conversion.render_text import decode_text, layout

LPI = {"standard": 98.0, "fine": 196.0, "superfine": 391.0}


def black(page: FaxPage) -> npt.NDArray[np.bool_]:
    return np.unpackbits(page_bitmap(page), axis=1)[:, :page.width].astype(bool)


def ink_box(bitmap: npt.NDArray[np.bool_]) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(bitmap.any(axis=1))
    cols = np.flatnonzero(bitmap.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def opts(**kw: object) -> ConversionOptions:
    return ConversionOptions(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("paper,size,inches", [("a4", makers.A4, 297 / 25.4),
                                               ("letter", makers.LETTER, 11.0),
                                               ("legal", (612.0, 1008.0), 14.0)])
@pytest.mark.parametrize("resolution", ["standard", "fine", "superfine"])
def test_pdf_page_geometry(paper: str, size: tuple[float, float], inches: float,
                           resolution: str) -> None:
    doc = makers.pdf([makers.frame_page(size)], size=size)
    (page,) = convert_documents([("frame.pdf", doc)],
                                opts(paper=paper, resolution=resolution,
                                     trim_trailing_white=False))
    assert page.width == 1728 and page.y_res == LPI[resolution] and page.x_res == 204.0
    assert page.length == pytest.approx(inches * LPI[resolution], abs=2)
    top, bottom, left, right = ink_box(black(page))
    # the frame (4 pt stroke) is drawn 10 pt inside every edge: equal margins
    assert abs(left - (1727 - right)) <= 3
    assert abs(top - (page.length - 1 - bottom)) <= max(3, LPI[resolution] / 50)
    # the paper's width fills the 1728-pixel line (as HylaFAX does)
    assert left == pytest.approx((10 - 2) / size[0] * 1728, abs=3)


def test_letter_on_a4_is_centred_and_fitted() -> None:
    doc = makers.pdf([makers.frame_page(makers.LETTER, inset=2)], size=makers.LETTER)
    (page,) = convert_documents([("letter.pdf", doc)],
                                opts(paper="a4", resolution="fine", trim_trailing_white=False))
    top, bottom, left, right = ink_box(black(page))
    assert left >= 0 and right <= 1727 and right - left > 1680  # whole width, scaled to fit
    assert abs(top - (page.length - 1 - bottom)) <= 3  # centred, not bottom-left
    assert top > 50  # Letter is shorter than A4: equal space above and below


def test_landscape_pdf_is_turned_to_portrait() -> None:
    size = (792.0, 612.0)
    doc = makers.pdf([makers.frame_page(size)], size=size)
    (page,) = convert_documents([("wide.pdf", doc)], opts(trim_trailing_white=False))
    top, bottom, left, right = ink_box(black(page))
    assert (bottom - top) / 196 > (right - left) / 204  # taller than wide


def test_text_pdf_ocr_at_standard_resolution() -> None:
    if not shutil.which("tesseract"):
        pytest.skip("tesseract not installed")
    lines = ["Invoice 4711 payment due", "Quarterly revenue report", "Small type reads well"]
    doc = makers.pdf([makers.text_page(lines, size_pt=8)])
    (page,) = convert_documents([("small.pdf", doc)], opts(resolution="standard"))
    img = Image.fromarray(np.where(black(page), 0, 255).astype(np.uint8))
    img = img.resize((img.width, img.height * 2), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(204, 196))
    out = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "6"], input=buf.getvalue(),
                         capture_output=True, check=True).stdout.decode()
    for line in lines:
        assert line in out, out


@pytest.mark.parametrize("encoding", ["mh", "mr", "mmr"])
def test_encodings_decode_to_the_same_page(encoding: str) -> None:
    doc = makers.pdf([makers.text_page(["Coding test page", "second line"])])
    (page,) = convert_documents([("c.pdf", doc)], opts(encoding=encoding))
    (mmr,) = convert_documents([("c.pdf", doc)], opts(encoding="mmr"))
    assert page.encoding == encoding
    assert np.array_equal(black(page), black(mmr))


def test_plain_text_wraps_pages_and_form_feeds() -> None:
    body = "first page\fsecond page " + "word " * 60 + "\n" + "\n".join(
        f"line {i}" for i in range(150))
    pages = convert_documents([("notes", body.encode())], opts(paper="letter"))
    per_page = layout(body, "letter")
    assert len(pages) == len(per_page) >= 4
    assert per_page[0] == ["first page"]
    assert max(len(line) for p in per_page for line in p) <= 88  # the long line was wrapped
    assert all(p.length < 11 * 196 for p in pages)


def test_text_encodings() -> None:
    assert decode_text("Grüße, café".encode()) == "Grüße, café"
    assert decode_text("Grüße, café".encode("latin-1")) == "Grüße, café"
    assert decode_text("\ufeffbom".encode()) == "bom"
    assert decode_text("wide".encode("utf-16")) == "wide"
    assert decode_text(b"\x93quoted\x94") == "\u201cquoted\u201d"  # Windows-1252
    pages = convert_documents([("latin.txt", "Grüße aus Köln".encode("latin-1"))], opts())
    assert black(pages[0]).any()


def test_fax_tiff_passes_through_without_rerender() -> None:
    doc = makers.pdf([makers.text_page(["already a fax"])])
    sent = convert_documents([("a.pdf", doc)], opts(encoding="mmr"))
    tiff = pages_to_tiff(sent)
    (again,) = convert_documents([("fax.tif", tiff)], opts(encoding="mmr"))
    assert t4_strip(again) == t4_strip(sent[0])  # coded data untouched
    (mh,) = convert_documents([("fax.tif", tiff)], opts(encoding="mh"))
    assert mh.encoding == "mh" and np.array_equal(black(mh), black(sent[0]))
    (std,) = convert_documents([("fax.tif", tiff)], opts(resolution="standard"))
    assert std.y_res == 98.0 and std.length == sent[0].length // 2


@pytest.mark.skipif(not shutil.which("gs"), reason="ghostscript not installed")
def test_ghostscript_fax_tiff_is_accepted(tmp_path: Path) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(makers.pdf([makers.text_page(["from ghostscript"])] * 2, size=makers.A4))
    out = tmp_path / "gs.tif"
    subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sPAPERSIZE=a4",
                    "-dFIXEDMEDIA", "-r209.10x196", "-sDEVICE=tiffg3",
                    f"-sOutputFile={out}", str(src)], check=True)
    pages = convert_documents([("gs.tif", out.read_bytes())], opts(encoding="mh"))
    assert len(pages) == 2 and all(p.width == 1728 for p in pages)


def test_general_tiff_any_compression() -> None:
    img = makers.text_image()
    frames = [img.convert("RGB"), img.convert("1")]
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", compression="tiff_lzw", save_all=True,
                   append_images=frames[1:])
    pages = convert_documents([("scan.tiff", buf.getvalue())], opts())
    assert len(pages) == 2
    for page in pages:
        assert black(page).mean() > 0.005
    jpeg_tiff = makers.image_bytes(img.convert("RGB"), "TIFF", compression="jpeg")
    assert len(convert_documents([("j.tif", jpeg_tiff)], opts())) == 1


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_images(fmt: str) -> None:
    data = makers.image_bytes(makers.text_image(mode="RGB" if fmt == "JPEG" else "L"), fmt)
    (page,) = convert_documents([(f"picture.{fmt.lower()}", data)],
                                opts(trim_trailing_white=False))
    bitmap = black(page)
    _top, _bottom, left, right = ink_box(bitmap)
    # the bar drawn across the image lands horizontally centred
    assert abs(left - (1727 - right)) < 40
    assert 0.005 < bitmap.mean() < 0.2


def test_exif_orientation_is_applied() -> None:
    # stored sideways (landscape) with a mark on its left; orientation 6 means "turn 90
    # degrees clockwise to display", which puts the mark at the top of a portrait page.
    img = Image.new("L", (1600, 1200), 255)
    img.paste(0, (0, 0, 200, 1200))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = makers.image_bytes(img.convert("RGB"), "JPEG", exif=exif.tobytes())
    (page,) = convert_documents([("photo.jpg", data)], opts(trim_trailing_white=False))
    bitmap = black(page)
    top, bottom, left, right = ink_box(bitmap)
    assert bottom - top < 0.3 * page.length and right - left > 1000  # a band at the top
    assert top < page.length / 3


def test_photo_is_halftoned_with_true_tone() -> None:
    (page,) = convert_documents([("photo.pdf", makers.photo_pdf(128))],
                                opts(trim_trailing_white=False))
    bitmap = black(page)
    # the flat grey left half of the image: about half the pixels black, in dots
    region = bitmap[700:1100, 400:600]
    assert 0.35 < region.mean() < 0.65
    rows_differ = np.mean(region[1:] != region[:-1])
    assert rows_differ > 0.05  # not a solid threshold
    # a plain threshold would turn mid-grey all black or all white; the gradient keeps tone
    gradient = bitmap[700:1100, 900:1300].mean(axis=0)
    assert gradient[:50].mean() > gradient[-50:].mean() + 0.3


def test_blank_pages_dropped_and_trailing_white_trimmed() -> None:
    doc = makers.pdf([makers.text_page(["page one"]), b"", makers.text_page(["page three"])])
    pages = convert_documents([("b.pdf", doc)], opts(resolution="fine"))
    assert len(pages) == 2
    assert all(p.length < 11 * 196 * 0.3 for p in pages)  # text at the top only
    full = convert_documents([("b.pdf", doc)], opts(drop_blank_pages=False,
                                                    trim_trailing_white=False))
    assert len(full) == 3 and all(p.length == pytest.approx(11 * 196, abs=2) for p in full)
    mh_trim = convert_documents([("b.pdf", doc)], opts(encoding="mh"))
    mh_full = convert_documents([("b.pdf", doc)], opts(encoding="mh", trim_trailing_white=False,
                                                       drop_blank_pages=False))
    assert sum(len(t4_strip(p)) for p in mh_trim) < 0.5 * sum(len(t4_strip(p)) for p in mh_full)
    # a job of nothing but blank pages still sends one page
    assert len(convert_documents([("e.pdf", makers.pdf([b""]))], opts())) == 1


def test_cover_page_and_header() -> None:
    doc = makers.pdf([makers.text_page(["body page one"]), makers.text_page(["body two"])])
    cover = CoverInfo(to_name="Jane Roe", to_company="Acme", to_fax="+1 555 0100",
                      from_name="John Doe", subject="Invoice", comments="Please call.")
    plain = convert_documents([("d.pdf", doc)], opts())
    pages = convert_documents([("d.pdf", doc)],
                              opts(cover=cover, header=HeaderInfo(station_id="+1 555 0199",
                                                                  sender_name="Acme")))
    assert len(pages) == 3
    assert black(pages[0]).mean() > 0.01  # a filled-in cover
    for page, body in zip(pages[1:], plain, strict=True):
        band = int(0.16 * page.y_res)
        assert black(page)[:band].any() and not black(body)[:band].any()
    headers = [black(p)[: int(0.16 * p.y_res)] for p in pages]
    assert not np.array_equal(headers[0], headers[1])  # "Page 1 of 3" vs "Page 2 of 3"


def test_custom_cover_template(tmp_path: Path) -> None:
    template = tmp_path / "mine.json"
    template.write_text(json.dumps({"elements": [
        {"type": "box", "x": 10, "y": 10, "w": 190, "h": 270, "width": 2},
        {"type": "text", "x": 105, "y": 100, "size": 30, "align": "center",
         "text": "{to_name} / {pages} pages"}]}))
    cover = CoverInfo(to_name="Jane")
    pages = convert_documents([], opts(cover=cover, cover_template=template,
                                       trim_trailing_white=False))
    assert len(pages) == 1
    top, bottom, _left, _right = ink_box(black(pages[0]))
    assert bottom - top > 0.85 * pages[0].length  # the box spans the page
    template.write_text(json.dumps({"elements": [{"type": "text", "x": 1, "y": 1,
                                                  "text": "{recipient}"}]}))
    with pytest.raises(TemplateError, match="recipient"):
        convert_documents([], opts(cover=cover, cover_template=template))
    template.write_text("{not json")
    with pytest.raises(TemplateError, match="JSON"):
        convert_documents([], opts(cover=cover, cover_template=template))


def test_progress_is_reported() -> None:
    seen: list[tuple[int, int]] = []
    doc = makers.pdf([makers.text_page([f"p{i}"]) for i in range(3)])
    convert_documents([("p.pdf", doc)], opts(), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3, 3)


@pytest.mark.parametrize("resolution", ["standard", "fine"])
def test_letter_on_a4_keeps_its_true_height_at_standard(resolution: str) -> None:
    # at standard only the width is narrowed to A4's line: the frame (its 4 pt stroke
    # reaching the page's edges) is Letter's 11 inches tall at 98 lines/inch; at fine
    # it is shrunk alike both ways
    doc = makers.pdf([makers.frame_page(makers.LETTER, inset=2)], size=makers.LETTER)
    (page,) = convert_documents([("letter.pdf", doc)],
                                opts(paper="a4", resolution=resolution, trim_trailing_white=False))
    top, bottom, left, right = ink_box(black(page))
    fit = 1.0 if resolution == "standard" else 210 / 215.9
    assert bottom - top + 1 == pytest.approx(11.0 * LPI[resolution] * fit, abs=2)
    assert right - left > 1700  # the whole width on the line either way


def test_only_a_letter_sized_narrowing_keeps_the_height() -> None:
    # a page half as wide again as A4 is scaled alike both ways, as before
    pl = place(12.4, 11.69, "a4", "standard", lines_per_inch=98.0, true_height=True)
    assert pl.scale_y / 98.0 == pytest.approx(pl.scale_x / (204.0 * 215 / 210), rel=1e-6)
    # A4 on A4 is true size; Letter on A4 is narrowed across only
    a4 = place(210 / 25.4, 297 / 25.4, "a4", "standard", lines_per_inch=98.0, true_height=True)
    letter = place(8.5, 11.0, "a4", "standard", lines_per_inch=98.0, true_height=True)
    assert a4.scale_y == letter.scale_y == 98.0
    assert letter.scale_x == pytest.approx(a4.scale_x * 210 / 215.9, rel=1e-6)
    # without true_height (images) Letter is shrunk both ways
    image = place(8.5, 11.0, "a4", "standard", lines_per_inch=98.0)
    assert image.scale_y == pytest.approx(98.0 * 210 / 215.9, rel=1e-6)
