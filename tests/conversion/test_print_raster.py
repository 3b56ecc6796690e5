"""PWG Raster and Apple raster (URF) documents, as print clients send them, to fax pages.

The real documents are made by CUPS's own filters from a PDF (``cupsfilter``, Debian's
``cups`` and ``cups-filters``): PWG raster in sRGB at 600 dpi and sGray at 300 dpi (no
PPD, IPP options), 1-bit black PWG raster and URF in grey and 1-bit through a small PPD
of ours (``rastertopwg`` writes URF).  Each must fax like the PDF it was printed from.
The hostile and exotic cases come from the test encoder in ``raster_makers.py``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tests.conversion import makers
from tests.conversion import raster_makers as rm
from umfax.conversion import (
    BrokenDocument,
    ConversionError,
    ConversionLimits,
    ConversionOptions,
    DocumentTooLarge,
    FaxPage,
    UnsupportedDocument,
    convert_documents,
    page_bitmap,
)
from umfax.conversion.detect import detect
from umfax.conversion.print_raster import decode_page, scan
from umfax.conversion.render_print_raster import PrintRasterSource

LINES = ["Invoice 4711 payment due", "Quarterly revenue report", "Printed to fax 0123456789"]

PPD = """*PPD-Adobe: "4.3"
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "UMFAXTST.PPD"
*Manufacturer: "umfax"
*Product: "(umfax raster test)"
*ModelName: "umfax raster test"
*ShortNickName: "umfax raster test"
*NickName: "umfax raster test"
*PSVersion: "(3010.000) 0"
*LanguageLevel: "3"
*ColorDevice: False
*DefaultColorSpace: Gray
*FileSystem: False
*Throughput: "1"
*LandscapeOrientation: Plus90
*TTRasterizer: Type42
*cupsVersion: 2.4
*cupsFilter2: "image/pwg-raster image/pwg-raster 0 -"
*OpenUI *PageSize/Media Size: PickOne
*OrderDependency: 10 AnySetup *PageSize
*DefaultPageSize: Letter
*PageSize Letter/Letter: "<</PageSize[612 792]>>setpagedevice"
*CloseUI: *PageSize
*OpenUI *PageRegion/Media Size: PickOne
*OrderDependency: 10 AnySetup *PageRegion
*DefaultPageRegion: Letter
*PageRegion Letter/Letter: "<</PageSize[612 792]>>setpagedevice"
*CloseUI: *PageRegion
*DefaultImageableArea: Letter
*ImageableArea Letter/Letter: "0 0 612 792"
*DefaultPaperDimension: Letter
*PaperDimension Letter/Letter: "612 792"
*OpenUI *ColorModel/Color Mode: PickOne
*OrderDependency: 10 AnySetup *ColorModel
*DefaultColorModel: Black
*ColorModel Black/Black: "<</cupsColorSpace 3/cupsBitsPerColor 1/cupsColorOrder 0>>setpagedevice"
*ColorModel Gray/Gray: "<</cupsColorSpace 18/cupsBitsPerColor 8/cupsColorOrder 0>>setpagedevice"
*CloseUI: *ColorModel
*OpenUI *Resolution/Resolution: PickOne
*OrderDependency: 10 AnySetup *Resolution
*DefaultResolution: 300dpi
*Resolution 300dpi/300 dpi: "<</HWResolution[300 300]>>setpagedevice"
*CloseUI: *Resolution
"""

VARIANTS = {
    # name: (output type, cupsfilter arguments)
    "pwg-srgb-600": ("image/pwg-raster", ["-e"]),
    "pwg-sgray-300": ("image/pwg-raster", ["-e", "-o", "print-color-mode=monochrome",
                                           "-o", "Resolution=300dpi"]),
    "pwg-black1-300": ("image/pwg-raster", ["-p", "{ppd}"]),
    "urf-gray-300": ("image/urf", ["-p", "{ppd}", "-o", "ColorModel=Gray"]),
    "urf-black1-300": ("image/urf", ["-p", "{ppd}"]),
}


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The test PDF and what CUPS's filters make of it, by variant name (and "pdf")."""
    cupsfilter = shutil.which("cupsfilter") or shutil.which("cupsfilter", path="/usr/sbin:/sbin")
    if not cupsfilter:
        pytest.skip("cupsfilter not installed (Debian packages cups, cups-filters)")
    work = tmp_path_factory.mktemp("print-raster")
    pdf = makers.pdf([makers.text_page(LINES, size_pt=9) + b"\n" +
                      makers.frame_page(makers.LETTER, inset=18),
                      makers.text_page(["Second page"], size_pt=12)], size=makers.LETTER)
    (work / "doc.pdf").write_bytes(pdf)
    (work / "test.ppd").write_text(PPD)
    out: dict[str, bytes] = {"pdf": pdf}
    for name, (mime, args) in VARIANTS.items():
        argv = [cupsfilter, "-m", mime,
                *[a.format(ppd=work / "test.ppd") for a in args], str(work / "doc.pdf")]
        run = subprocess.run(argv, capture_output=True, timeout=60, check=False)
        assert run.returncode == 0 and run.stdout, run.stderr.decode()[-2000:]
        out[name] = run.stdout
    return out


def black(page: FaxPage) -> npt.NDArray[np.bool_]:
    return np.unpackbits(page_bitmap(page), axis=1)[:, :page.width].astype(bool)


def ink_box(bitmap: npt.NDArray[np.bool_]) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(bitmap.any(axis=1))
    cols = np.flatnonzero(bitmap.any(axis=0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def aligned_agreement(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_]) -> float:
    """Best intersection over union of the ink of two pages, b shifted by up to 3 pixels."""
    best = 0.0
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            s = np.roll(np.roll(b, dy, axis=0), dx, axis=1)
            best = max(best, float((a & s).sum() / max(1, (a | s).sum())))
    return best


def ocr(page: FaxPage) -> str:
    img = Image.fromarray(np.where(black(page), 0, 255).astype(np.uint8))
    if page.y_res < 150:
        img = img.resize((img.width, img.height * 2), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(204, 196))
    return subprocess.run(["tesseract", "stdin", "stdout", "--psm", "6"], input=buf.getvalue(),
                          capture_output=True, check=True, timeout=120).stdout.decode()


def test_cups_output_is_what_the_variants_say(printed: dict[str, bytes]) -> None:
    expected = {"pwg-srgb-600": ("rgb", 8, 600), "pwg-sgray-300": ("gray", 8, 300),
                "pwg-black1-300": ("black", 1, 300), "urf-gray-300": ("gray", 8, 300),
                "urf-black1-300": ("black", 1, 300)}
    for name, (inks, bits, dpi) in expected.items():
        assert detect(printed[name])[0] == "print-raster"
        doc = scan(name, printed[name], 60_000_000, 500)
        assert len(doc.pages) == 2
        page = doc.pages[0]
        assert (page.inks, page.bits_per_color, page.x_dpi) == (inks, bits, dpi), name
        assert page.width_inches == pytest.approx(8.5, abs=0.01)
        assert page.height_inches == pytest.approx(11.0, abs=0.01)


@pytest.mark.parametrize("resolution", ["standard", "fine"])
def test_printed_rasters_fax_like_the_pdf(printed: dict[str, bytes], resolution: str) -> None:
    options = ConversionOptions(resolution=resolution, paper="letter",
                                trim_trailing_white=False)
    reference = [black(p) for p in convert_documents([("doc.pdf", printed["pdf"])], options)]
    for name in VARIANTS:
        pages = convert_documents([(name, printed[name])], options)
        assert len(pages) == len(reference) == 2, name
        for page, ref in zip(pages, reference, strict=True):
            assert (page.width, page.x_res) == (1728, 204.0)
            assert page.resolution == resolution and page.length == ref.shape[0], name
            got = black(page)
            # same place on the page: the frame 18 pt inside the edges lands where the
            # PDF's does, within 1/100 inch at fine and 1/32 inch at standard (the two
            # renderers draw the 4 pt stroke a row thinner or thicker)
            slack = 2 if resolution == "fine" else 3
            for a, b in zip(ink_box(got), ink_box(ref), strict=True):
                assert abs(a - b) <= slack, (name, ink_box(got), ink_box(ref))
            # and the same marks (measured 0.74-0.90 at fine, 0.70-0.73 at standard: the
            # raster's 9 pt strokes come out a pixel bolder than the PDF's hinted ones)
            floor = 0.65 if resolution == "fine" else 0.6
            assert aligned_agreement(ref, got) > floor, name


def test_printed_rasters_read_back_by_ocr(printed: dict[str, bytes]) -> None:
    if not shutil.which("tesseract"):
        pytest.skip("tesseract not installed")
    for name, resolution in (("pwg-srgb-600", "fine"), ("urf-black1-300", "standard")):
        (page, _) = convert_documents([(name, printed[name])],
                                      ConversionOptions(resolution=resolution))
        text = ocr(page)
        for line in LINES:
            assert line in text, (name, text)


def test_urf_and_pwg_of_the_same_print_agree(printed: dict[str, bytes]) -> None:
    options = ConversionOptions(resolution="fine")
    (pwg, _) = convert_documents([("a", printed["pwg-sgray-300"])], options)
    (urf, _) = convert_documents([("b", printed["urf-gray-300"])], options)
    assert np.array_equal(black(pwg), black(urf))


# -- exact pixels from the test encoder --------------------------------------------------

def _pattern(h: int = 40, w: int = 37) -> npt.NDArray[np.uint8]:
    rng = np.random.default_rng(7)
    gray = np.full((h, w), 255, dtype=np.uint8)
    gray[5:9] = 0  # repeated lines
    gray[12:30, 3:30] = rng.integers(0, 256, (18, 27), dtype=np.uint8)  # literals
    gray[33, ::2] = 0
    return gray


def _decoded(content: bytes) -> list[npt.NDArray[np.uint8]]:
    doc = scan("t", content, 60_000_000, 500)
    return [decode_page(doc, p) for p in doc.pages]


@pytest.mark.parametrize("make", [rm.pwg, rm.urf])
def test_gray_colour_and_depths_decode_exactly(make: object) -> None:
    gray = _pattern()
    w = gray.shape[1]
    assert callable(make)
    # 8-bit grey
    assert np.array_equal(_decoded(make([rm.gray_page(gray)]))[0], gray)
    # 16-bit grey: the high byte counts
    wide = np.stack([gray, 255 - gray], axis=-1).reshape(gray.shape[0], w * 2)
    (out16,) = _decoded(make([rm.Page(wide, w, 16, 1, "sgray")]))
    assert np.array_equal(out16, gray)
    # sRGB: luma; grey pixels stay themselves
    rgb = np.repeat(gray[:, :, None], 3, axis=2).reshape(gray.shape[0], w * 3)
    (out_rgb,) = _decoded(make([rm.Page(rgb, w, 8, 3, "srgb")]))
    assert np.abs(out_rgb.astype(int) - gray).max() <= 1
    # CMYK: only K inked
    cmyk = np.zeros((gray.shape[0], w, 4), dtype=np.uint8)
    cmyk[:, :, 3] = 255 - gray
    (out_cmyk,) = _decoded(make([rm.Page(cmyk.reshape(gray.shape[0], w * 4), w, 8, 4,
                                         "cmyk")]))
    assert np.abs(out_cmyk.astype(int) - gray).max() <= 1


def test_pwg_black_and_one_bit_pages_decode_exactly() -> None:
    gray = _pattern()
    ink = gray < 128
    w = gray.shape[1]
    packed = np.packbits(ink, axis=1)
    (k1,) = _decoded(rm.pwg([rm.Page(packed, w, 1, 1, "black")]))
    assert np.array_equal(k1, np.where(ink, 0, 255))
    (w1,) = _decoded(rm.pwg([rm.Page(np.packbits(~ink, axis=1), w, 1, 1, "sgray")]))
    assert np.array_equal(w1, np.where(ink, 0, 255))
    (k8,) = _decoded(rm.pwg([rm.Page(255 - gray, w, 8, 1, "black")]))
    assert np.array_equal(k8, gray)


def test_fill_to_end_of_line_and_flipped_back_sides() -> None:
    page = rm.gray_page(np.full((3, 10), 255, dtype=np.uint8))
    # line 1: two black pixels then "white to the end"; lines 2-3: one line repeated
    lines = bytes([0, 1, 0, 128, 1, 9, 255])
    doc = scan("t", b"RaS2" + rm.pwg_header(page) + lines, 10_000, 5)
    expected = np.full((3, 10), 255, dtype=np.uint8)
    expected[0, :2] = 0
    assert np.array_equal(decode_page(doc, doc.pages[0]), expected)
    flipped = scan("t", b"RaS2" + rm.pwg_header(page, feed_transform=-1) + lines, 10_000, 5)
    assert np.array_equal(decode_page(flipped, flipped.pages[0]), expected[::-1])


def test_raster_page_is_placed_at_its_physical_size() -> None:
    # a half-letter (5.5 x 8.5 in) page at 200 dpi with a black border: fitted to the
    # paper like a PDF of that size, centred
    gray = np.full((1700, 1100), 255, dtype=np.uint8)
    gray[:20] = gray[-20:] = 0
    gray[:, :20] = gray[:, -20:] = 0
    doc = rm.pwg([rm.gray_page(gray, dpi=200)])
    size = (5.5 * 72, 8.5 * 72)
    pdf = makers.pdf([b"0 g 0 0 %g 7.2 re f 0 %g %g 7.2 re f 0 0 7.2 %g re f %g 0 7.2 %g re f"
                      % (size[0], size[1] - 7.2, size[0], size[1], size[0] - 7.2, size[1])],
                     size=size)
    options = ConversionOptions(resolution="fine", paper="a4", trim_trailing_white=False)
    (page,) = convert_documents([("half.ras", doc)], options)
    (ref,) = convert_documents([("half.pdf", pdf)], options)
    for a, b in zip(ink_box(black(page)), ink_box(black(ref)), strict=True):
        assert abs(a - b) <= 3


def test_landscape_raster_is_turned_to_portrait() -> None:
    gray = np.full((850, 1100), 255, dtype=np.uint8)  # 11 x 8.5 in at 100 dpi
    gray[100:110, 100:1000] = 0  # a long horizontal bar
    (page,) = convert_documents([("wide.ras", rm.pwg([rm.gray_page(gray, dpi=100)]))],
                                ConversionOptions(trim_trailing_white=False))
    top, bottom, left, right = ink_box(black(page))
    assert (bottom - top) / 196 > 5 * (right - left) / 204  # the bar now runs down the page


def test_pages_are_decoded_one_at_a_time() -> None:
    """Eight 2550 x 3300 pages (8.4 MB each decoded): memory holds about one page."""
    gray = np.full((3300, 2550), 255, dtype=np.uint8)
    gray[200:260, 300:2000] = 0
    content = rm.pwg([rm.gray_page(gray)] * 8)
    assert len(content) < 200_000
    source = PrintRasterSource("big.ras", content, 60_000_000, 500)
    assert source.page_count == 8
    page_bytes = gray.size
    tracemalloc.start()
    try:
        count = sum(1 for _ in source.pages("letter", "standard"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 8
    assert peak < 3 * page_bytes, f"peak {peak:,} bytes for pages of {page_bytes:,}"


# -- hostile and broken files -------------------------------------------------------------

def _convert(content: bytes, name: str = "print.ras", **limits: int) -> list[FaxPage]:
    options = ConversionOptions(limits=ConversionLimits(**limits))  # type: ignore[arg-type]
    return convert_documents([(name, content)], options)


def _small(h: int = 20, w: int = 16) -> rm.Page:
    gray = np.full((h, w), 255, dtype=np.uint8)
    gray[3:6, 2:12] = 0
    return rm.gray_page(gray, dpi=100)


def test_huge_claimed_dimensions_are_refused_before_decoding() -> None:
    page = _small()
    header = rm.pwg_header(page, width=80_000, height=80_000)
    content = rm.pwg([page, page]) + header + bytes([255, 128]) * 313
    with pytest.raises(DocumentTooLarge) as err:
        _convert(content)
    text = str(err.value)
    assert "page 3 of print.ras (PWG raster) claims 80000 x 80000 pixels" in text
    assert "60,000,000" in text
    urf = rm.urf([page])[:12] + rm.urf_header(page, width=100_000, height=100_000)
    with pytest.raises(DocumentTooLarge, match=r"page 1 of .*Apple raster.* 100000 x 100000"):
        _convert(urf, "phone.urf")


@pytest.mark.parametrize("width,height", [(0, 20), (16, 0)])
def test_zero_dimensions_are_refused(width: int, height: int) -> None:
    page = _small()
    content = b"RaS2" + rm.pwg_header(page, width=width, height=height)
    with pytest.raises(BrokenDocument, match=rf"claims {width} x {height} pixels, an empty"):
        _convert(content)


def test_truncated_files_are_refused_with_the_place() -> None:
    full = rm.pwg([_small(), _small()])
    header_end = 4 + 1796
    cases = {
        full[:100]: "page 1 of print.ras (PWG raster) is cut short: the file ends inside "
                    "its page header",
        full[:header_end + 3]: "is cut short: the file ends inside line",
        full[:-2]: "page 2 of print.ras (PWG raster) is cut short",
    }
    for content, message in cases.items():
        with pytest.raises(BrokenDocument) as err:
            _convert(content)
        assert message in str(err.value)
    urf = rm.urf([_small()])
    with pytest.raises(BrokenDocument, match=r"Apple raster.* is cut short"):
        _convert(urf[:-1], "print.urf")


def test_wrong_sync_word_is_not_taken_for_raster() -> None:
    good = rm.pwg([_small()])
    for content in (b"RaS3" + good[4:], b"2SaR" + good[4:], b"UNIRAST!" + rm.urf([_small()])[8:]):
        assert detect(content)[0] != "print-raster"
        with pytest.raises(UnsupportedDocument, match="cannot be faxed"):
            _convert(content)


def test_line_repeat_past_the_page_is_refused() -> None:
    page = _small(h=20)
    # one line repeated 256 times on a page of 20 lines
    content = b"RaS2" + rm.pwg_header(page) + bytes([255, 15, 255])
    with pytest.raises(BrokenDocument, match=r"repeats line 1 256 times, past the page's 20"):
        _convert(content)


def test_runs_past_the_end_of_a_line_are_refused() -> None:
    page = _small(h=1, w=16)
    for packets in (bytes([0, 127, 0]),  # a run of 128 pixels on a line of 16
                    bytes([0, 129]) + bytes(128)):  # 128 literal pixels
        content = b"RaS2" + rm.pwg_header(page) + packets
        with pytest.raises(BrokenDocument, match="past the end of line 1"):
            _convert(content)


def test_too_many_pages_are_refused() -> None:
    pages = [_small()] * 6
    with pytest.raises(DocumentTooLarge, match=r"6 pages or more, more than the limit of 5"):
        _convert(rm.pwg(pages), max_pages=5)
    # a URF header's own page count is checked before any page is read
    bogus = rm.urf([_small()], claimed_pages=1_000_000)
    with pytest.raises(DocumentTooLarge, match=r"claims 1,000,000 pages"):
        _convert(bogus, "print.urf")
    with pytest.raises(BrokenDocument, match=r"claims 3 pages but holds 2"):
        _convert(rm.urf([_small()] * 2, claimed_pages=3), "print.urf")


def test_bad_headers_are_refused_in_words() -> None:
    page = _small()
    body = rm.code_page(page.lines, 1)
    cases: list[tuple[bytes, type[ConversionError], str]] = [
        (b"RaS2" + rm.pwg_header(page, space=16) + body, UnsupportedDocument,
         "colour space 16"),
        (b"RaS2" + rm.pwg_header(page, bytes_per_line=99) + body, BrokenDocument,
         "claims 99 bytes per line"),
        (rm.urf([page])[:12] + rm.urf_header(page, space="cielab") + body,
         UnsupportedDocument, "colour space 2"),
        (rm.urf([page])[:12] + rm.urf_header(page, dpi=0) + body, BrokenDocument,
         "resolution of 0 x 0 dpi"),
        (b"RaS2", BrokenDocument, "holds no pages"),
    ]
    for content, error, message in cases:
        with pytest.raises(error) as err:
            _convert(content)
        assert message in str(err.value)


def test_garbage_never_escapes_as_anything_but_a_conversion_error() -> None:
    rng = np.random.default_rng(3)
    good = rm.pwg([_small(), _small(h=30)])
    for _ in range(25):
        mutated = bytearray(good)
        for pos in rng.integers(4, len(good), size=4):
            mutated[pos] = int(rng.integers(0, 256))
        try:
            _convert(bytes(mutated), max_pixels=1_000_000)
        except ConversionError as exc:
            assert "could not be converted" not in str(exc), exc  # an unforeseen failure


def test_convert_command_accepts_raster_files(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from umfax.cli.convert import register

    app = typer.Typer()
    register(app)
    app.command("version")(lambda: None)  # a second command so typer keeps sub-commands
    (tmp_path / "job.urf").write_bytes(rm.urf([_small(h=200, w=160)]))
    (tmp_path / "job.pwg").write_bytes(rm.pwg([_small(h=200, w=160)] * 2))
    out = tmp_path / "out.tif"
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "job.urf"),
                                         str(tmp_path / "job.pwg"), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert '"pages": 3' in result.stdout
