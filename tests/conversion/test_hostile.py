"""Hostile and broken inputs: each fails with a ConversionError the sender can act on,
and the converter keeps working afterwards."""

from __future__ import annotations

import io
import os
import random

import pytest
from pypdf import PdfReader, PdfWriter

from tests.conversion import makers
from umfax.conversion import (
    BrokenDocument,
    ConversionError,
    ConversionLimits,
    ConversionOptions,
    DocumentTooLarge,
    EncryptedDocument,
    UnsupportedDocument,
    convert_documents,
)


def _encrypted_pdf() -> bytes:
    reader = PdfReader(io.BytesIO(makers.pdf([makers.text_page(["secret"])])))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.encrypt(user_password="open sesame", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _fails(name: str, content: bytes, kind: type[ConversionError],
           options: ConversionOptions | None = None) -> str:
    with pytest.raises(ConversionError) as err:
        convert_documents([(name, content)], options or ConversionOptions())
    assert isinstance(err.value, kind), repr(err.value)
    message = str(err.value)
    assert name in message
    return message


def test_encrypted_pdf_refused_clearly() -> None:
    message = _fails("report.pdf", _encrypted_pdf(), EncryptedDocument)
    assert "encrypted" in message and "unencrypted copy" in message


def test_truncated_pdf() -> None:
    doc = makers.pdf([makers.text_page([f"page {i}"]) for i in range(5)])
    message = _fails("cut.pdf", doc[: len(doc) // 2], BrokenDocument)
    assert "truncated" in message and "complete file" in message


def test_corrupt_pdf_body() -> None:
    _fails("junk.pdf", b"%PDF-1.4\n" + os.urandom(3000) + b"\n%%EOF\n", BrokenDocument)


def test_png_decompression_bomb() -> None:
    message = _fails("huge.png", makers.png_bomb(), DocumentTooLarge)
    assert "pixels" in message or "dimensions" in message
    # below Pillow's own bomb limit, but above ours
    limits = ConversionLimits(max_pixels=1_000_000)
    _fails("big.png", makers.png_bomb(2000, 2000), DocumentTooLarge,
           ConversionOptions(limits=limits))


def test_zero_byte_file() -> None:
    assert "empty" in _fails("empty.pdf", b"", BrokenDocument)


def test_random_bytes() -> None:
    data = random.Random(7).randbytes(20_000)
    message = _fails("mystery.bin", data, UnsupportedDocument)
    assert "PDF" in message  # tells the sender what would work


def test_ten_thousand_page_pdf_hits_the_page_limit() -> None:
    message = _fails("monster.pdf", makers.many_pages_pdf(10_000), DocumentTooLarge)
    assert "10,000 pages" in message and "split" in message


def test_garbage_tiff() -> None:
    data = b"II*\x00\x08\x00\x00\x00" + random.Random(3).randbytes(5000)
    _fails("fax.tif", data, ConversionError)
    _fails("loop.tif", b"II*\x00\x08\x00\x00\x00\x00\x00\x08\x00\x00\x00", ConversionError)


def test_truncated_image() -> None:
    png = makers.image_bytes(makers.text_image(), "PNG")
    _fails("cut.png", png[: len(png) // 3], BrokenDocument)


def test_input_size_limit() -> None:
    options = ConversionOptions(limits=ConversionLimits(max_input_bytes=1000))
    message = _fails("big.txt", b"x" * 5000, DocumentTooLarge, options)
    assert "5,000 bytes" in message


def test_zip_that_is_not_an_office_document() -> None:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    _fails("archive.docx", buf.getvalue(), UnsupportedDocument)


def test_bad_options_are_conversion_errors() -> None:
    with pytest.raises(ConversionError, match="resolution"):
        convert_documents([("a.txt", b"hi")], ConversionOptions(resolution="ultra"))  # type: ignore[arg-type]


def test_worker_survives_a_bad_document() -> None:
    for name, content in (("report.pdf", _encrypted_pdf()), ("huge.png", makers.png_bomb()),
                          ("x.bin", random.Random(1).randbytes(999))):
        with pytest.raises(ConversionError):
            convert_documents([(name, content)], ConversionOptions())
    good = convert_documents([("ok.txt", b"still working")], ConversionOptions())
    assert len(good) == 1
    # a bad document among good ones fails the job, naming the culprit
    with pytest.raises(ConversionError, match=r"broken\.pdf"):
        convert_documents([("ok.txt", b"fine"), ("broken.pdf", b"%PDF-1.4 nothing")],
                          ConversionOptions())
