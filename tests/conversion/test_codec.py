"""MH/MR/MMR coding, TIFF Class F containers, PDF pass-through, previews."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from umfax.conversion import (
    CodingError,
    ConversionError,
    FaxPage,
    page_bitmap,
    page_from_t4,
    pages_to_pdf,
    pages_to_tiff,
    preview_png,
    recode_page,
    reverse_bits,
    t4_strip,
    tiff_to_pages,
)
from umfax.conversion.pages import page_from_bitmap

RESOLUTIONS = {"standard": 98.0, "fine": 196.0, "superfine": 391.0}
ENCODINGS = ("mh", "mr", "mmr")


def _at(bitmap: npt.NDArray[np.bool_], resolution: str) -> npt.NDArray[np.bool_]:
    if resolution == "standard":
        return bitmap[::2]
    if resolution == "superfine":
        return np.repeat(bitmap, 2, axis=0)
    return bitmap


def _pillow_pixels(page: FaxPage) -> npt.NDArray[np.bool_]:
    """Decode with Pillow's own libtiff (an independent decoder); True = black."""
    with Image.open(io.BytesIO(page.data)) as im:
        return np.asarray(im.convert("L")) < 128


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_round_trip_every_coding_and_resolution(text_bitmap: npt.NDArray[np.bool_],
                                                encoding: str, resolution: str) -> None:
    bitmap = _at(text_bitmap, resolution)
    page = page_from_bitmap(np.packbits(bitmap, axis=1), encoding,  # type: ignore[arg-type]
                            RESOLUTIONS[resolution])
    assert (page.width, page.length, page.encoding) == (1728, bitmap.shape[0], encoding)
    ours = np.unpackbits(page_bitmap(page), axis=1).astype(bool)
    assert np.array_equal(ours, bitmap)
    assert np.array_equal(_pillow_pixels(page), bitmap)
    # MMR is more compact than MH on real type
    if encoding == "mmr":
        mh = page_from_bitmap(np.packbits(bitmap, axis=1), "mh", RESOLUTIONS[resolution])
        assert len(t4_strip(page)) < len(t4_strip(mh))


def test_class_f_tags(text_bitmap: npt.NDArray[np.bool_]) -> None:
    page = page_from_bitmap(np.packbits(text_bitmap, axis=1), "mr", 196.0)
    with Image.open(io.BytesIO(page.data)) as im:
        tags = im.tag_v2
        assert tags[262] == 0  # min-is-white
        assert tags[266] == 1  # fill order
        assert tags[259] == 3 and tags[292] & 1 == 1  # G3, 2-D
        assert float(tags[282]) == 204.0 and float(tags[283]) == 196.0 and tags[296] == 2
        assert len(tags[273]) == 1 and tags[278] == text_bitmap.shape[0]
    mmr = recode_page(page, "mmr")
    with Image.open(io.BytesIO(mmr.data)) as im:
        assert im.tag_v2[259] == 4


def test_strip_framing(text_bitmap: npt.NDArray[np.bool_]) -> None:
    packed = np.packbits(text_bitmap, axis=1)
    mh = t4_strip(page_from_bitmap(packed, "mh", 196.0))
    assert np.unpackbits(np.frombuffer(mh[:2], np.uint8))[:12].tolist() == [0] * 11 + [1]
    mmr = t4_strip(page_from_bitmap(packed, "mmr", 196.0))
    bits = "".join(f"{b:08b}" for b in mmr[-4:]).rstrip("0")
    assert bits.endswith("000000000001000000000001")  # EOFB


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_page_from_t4_finds_length(text_bitmap: npt.NDArray[np.bool_], encoding: str) -> None:
    bitmap = text_bitmap[:1500]
    coded = t4_strip(page_from_bitmap(np.packbits(bitmap, axis=1), encoding, 196.0))  # type: ignore[arg-type]
    page = page_from_t4(coded, 1728, 0, encoding, 204.0, 196.0)  # type: ignore[arg-type]
    assert page.length == 1500
    assert np.array_equal(np.unpackbits(page_bitmap(page), axis=1).astype(bool), bitmap)
    # received MH with RTC appended (six EOLs) still counts the lines only
    if encoding == "mh":
        rtc = bytes.fromhex("001001001001001001")
        assert page_from_t4(coded + rtc, 1728, 0, "mh", 204.0, 196.0).length == 1500


def test_recode_between_all_codings(text_bitmap: npt.NDArray[np.bool_]) -> None:
    page = page_from_bitmap(np.packbits(text_bitmap, axis=1), "mh", 196.0)
    for target in ("mr", "mmr", "mh"):
        other = recode_page(page, target)  # type: ignore[arg-type]
        assert other.encoding == target
        assert np.array_equal(page_bitmap(other), page_bitmap(page))
    assert recode_page(page, "mh") is page
    with pytest.raises(ConversionError):
        recode_page(page, "jbig")  # type: ignore[arg-type]


def test_multipage_tiff_round_trip(text_bitmap: npt.NDArray[np.bool_], tmp_path: Path) -> None:
    packed = np.packbits(text_bitmap, axis=1)
    pages = [page_from_bitmap(packed, "mmr", 196.0),
             page_from_bitmap(packed[::2], "mh", 98.0),
             page_from_bitmap(packed, "mr", 196.0)]
    data = pages_to_tiff(pages)
    again = tiff_to_pages(data)
    assert [(p.encoding, p.length, p.y_res) for p in again] == \
        [(p.encoding, p.length, p.y_res) for p in pages]
    assert [t4_strip(p) for p in again] == [t4_strip(p) for p in pages]
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 3
    if shutil.which("tiffinfo"):
        path = tmp_path / "fax.tif"
        path.write_bytes(data)
        out = subprocess.run(["tiffinfo", str(path)], capture_output=True, text=True,
                             check=True).stdout
        assert out.count("Photometric Interpretation: min-is-white") == 3
        assert "CCITT Group 4" in out and "CCITT Group 3" in out


@pytest.mark.skipif(not shutil.which("tiffcp"), reason="tiffcp (libtiff-tools) not installed")
def test_tiff_variants_from_libtiff_tools(text_bitmap: npt.NDArray[np.bool_],
                                          tmp_path: Path) -> None:
    """LSB-first fill order and many-strip MMR (as other fax software writes) are read."""
    src = tmp_path / "src.tif"
    src.write_bytes(pages_to_tiff([page_from_bitmap(np.packbits(text_bitmap, axis=1), "mmr",
                                                    196.0)]))
    for args in (["-c", "g4", "-r", "100"], ["-c", "g3:2d", "-f", "lsb2msb"],
                 ["-c", "g3", "-r", "64", "-f", "lsb2msb"]):
        out = tmp_path / "out.tif"
        subprocess.run(["tiffcp", *args, str(src), str(out)], check=True)
        (page,) = tiff_to_pages(out.read_bytes())
        assert np.array_equal(np.unpackbits(page_bitmap(page), axis=1).astype(bool),
                              text_bitmap), args


def test_reverse_bits() -> None:
    assert reverse_bits(b"\x01\x80\xf0") == b"\x80\x01\x0f"
    assert reverse_bits(reverse_bits(bytes(range(256)))) == bytes(range(256))


def test_pdf_passes_coded_data_through(text_bitmap: npt.NDArray[np.bool_]) -> None:
    packed = np.packbits(text_bitmap, axis=1)
    fine = page_from_bitmap(packed, "mmr", 196.0)
    standard = page_from_bitmap(packed[::2], "mh", 98.0)
    mr = page_from_bitmap(packed, "mr", 196.0)
    data = pages_to_pdf([fine, standard, mr])
    for page in (fine, standard, mr):
        assert t4_strip(page) in data  # the very bytes, not re-encoded
    doc = pdfium.PdfDocument(data)
    try:
        sizes = [doc[i].get_size() for i in range(3)]
        assert sizes[0] == pytest.approx(sizes[1], abs=1.0)  # same physical size
        assert sizes[0][0] == pytest.approx(1728 / 204 * 72, abs=0.1)
        for i, expect in ((0, text_bitmap), (1, text_bitmap[::2]), (2, text_bitmap)):
            page = doc[i]
            w, _h = page.get_size()
            bmp = page.render(scale=1728 / w, grayscale=True).to_pil()
            shown = np.asarray(bmp.resize((1728, expect.shape[0]), Image.Resampling.BOX))
            agree = np.mean((shown < 128) == expect)
            assert agree > 0.97, (i, agree)
    finally:
        doc.close()


def test_preview_png_has_true_proportions(text_bitmap: npt.NDArray[np.bool_]) -> None:
    packed = np.packbits(text_bitmap, axis=1)
    for page in (page_from_bitmap(packed, "mmr", 196.0),
                 page_from_bitmap(packed[::2], "mmr", 98.0)):
        with Image.open(io.BytesIO(preview_png(page, max_width=400))) as im:
            assert im.format == "PNG" and im.width == 400
            assert im.height == pytest.approx(400 * (2200 / 196) / (1728 / 204), abs=2)
            assert np.asarray(im.convert("L")).min() < 100  # the type is visible


def test_garbage_coded_data_raises_coding_error() -> None:
    with pytest.raises(CodingError):
        page_from_t4(b"", 1728, 0, "mmr", 204.0, 196.0)
    with pytest.raises(ConversionError):
        page_from_t4(b"\xff" * 40, 1728, 0, "mh", 204.0, 196.0)
    with pytest.raises(ConversionError) as err:
        tiff_to_pages(b"II*\x00" + bytes(range(200)))
    assert "TIFF" in str(err.value)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 40),
       density=st.floats(0.0, 1.0), encoding=st.sampled_from(ENCODINGS))
def test_round_trip_random_runs(seed: int, rows: int, density: float, encoding: str) -> None:
    """Any bitmap survives coding and decoding, whatever its run structure."""
    rng = np.random.default_rng(seed)
    # runs of random length: flip colour with probability `density` at each pixel
    flips = rng.random((rows, 1728)) < density * 0.2
    bitmap = (np.cumsum(flips, axis=1) % 2).astype(bool)
    page = page_from_bitmap(np.packbits(bitmap, axis=1), encoding, 196.0)  # type: ignore[arg-type]
    assert np.array_equal(np.unpackbits(page_bitmap(page), axis=1).astype(bool), bitmap)
    again = page_from_t4(t4_strip(page), 1728, 0, encoding, 204.0, 196.0)  # type: ignore[arg-type]
    assert again.length == rows
