"""The IPP codec (RFC 8010): every value tag, collections, limits, and garbage in."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ipp.codec import (
    Attribute,
    IppCodecError,
    Limits,
    Localized,
    Message,
    Resolution,
    Value,
    attr,
    collection,
    decode,
    encode,
    group,
)
from connectors.ipp.constants import Delimiter, Operation, Status, Tag

INT_ONE = b"\x21\x00\x00\x00\x04\x00\x00\x00\x01"


def _request(*attributes: Attribute, data: bytes = b"", job: list[Attribute] | None = None) -> Message:
    groups = [
        group(
            Delimiter.OPERATION,
            [
                attr("attributes-charset", Tag.CHARSET, "utf-8"),
                attr("attributes-natural-language", Tag.LANGUAGE, "en"),
                *attributes,
            ],
        )
    ]
    if job:
        groups.append(group(Delimiter.JOB, job))
    return Message((2, 0), Operation.PRINT_JOB, 7, groups, data)


def test_every_value_tag_round_trips() -> None:
    destination = collection(
        attr("destination-uri", Tag.URI, "tel:+1(555)123-4567"),
        attr("pre-dial-string", Tag.TEXT, "9"),
    )
    media = collection(
        attr("media-size", Tag.BEGIN_COLLECTION, collection(attr("x-dimension", Tag.INTEGER, 21000))),
        attr("media-type", Tag.KEYWORD, "stationery"),
    )
    message = _request(
        attr("printer-uri", Tag.URI, "ipp://localhost/ipp/faxout"),
        Attribute("requesting-user-name", [Value(Tag.NAME_WITH_LANGUAGE, Localized("en", "Ann Ä"))]),
        attr("job-name", Tag.NAME, "Bericht ü"),
        attr("document-format", Tag.MIME_TYPE, "application/pdf"),
        attr("compression", Tag.KEYWORD, "none"),
        job=[
            attr("copies", Tag.INTEGER, 1),
            attr("print-quality", Tag.ENUM, 4),
            attr("fit", Tag.BOOLEAN, True, False),
            attr("blob", Tag.OCTET_STRING, b"\x00\xff"),
            attr("printer-resolution", Tag.RESOLUTION, Resolution(300, 600)),
            attr("page-ranges", Tag.RANGE, (1, 5), (7, 7)),
            attr("when", Tag.DATE_TIME, b"\x07\xea\x0c\x07\x13\x19\x00\x00+\x00\x00"),
            Attribute("job-message", [Value(Tag.TEXT_WITH_LANGUAGE, Localized("de", "Grüße"))]),
            attr("destination-uris", Tag.BEGIN_COLLECTION, destination, destination),
            attr("media-col", Tag.BEGIN_COLLECTION, media),
            attr("job-hold-until", Tag.NO_VALUE),
            Attribute("mixed", [Value(Tag.KEYWORD, "none"), Value(Tag.NAME, "custom")]),
            attr("future", 0x4F, b"raw"),
        ],
        data=b"%PDF-1.4 ...",
    )
    decoded = decode(encode(message))
    assert decoded == message
    job = decoded.group(Delimiter.JOB)
    assert job is not None
    destinations = job.attributes["destination-uris"].values
    assert len(destinations) == 2
    first = destinations[0].data
    assert isinstance(first, dict)
    assert first["destination-uri"].first == "tel:+1(555)123-4567"
    media_col = job.attributes["media-col"].first
    assert isinstance(media_col, dict)
    size = media_col["media-size"].first
    assert isinstance(size, dict) and size["x-dimension"].first == 21000
    assert decoded.data == b"%PDF-1.4 ..."
    assert decoded.attribute(Delimiter.OPERATION, "requesting-user-name") is not None


def test_header_fields() -> None:
    decoded = decode(encode(_request()))
    assert decoded.version == (2, 0)
    assert decoded.code == Operation.PRINT_JOB
    assert decoded.request_id == 7


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda b: b[:5], Status.BAD_REQUEST),
        (lambda b: b[:-1], Status.BAD_REQUEST),  # no end-of-attributes tag
        (lambda b: b"\x03\x00" + b[2:], Status.VERSION_NOT_SUPPORTED),
        (lambda b: b[:8] + b"\x47\x00\x01x\x00\x00\x03", Status.BAD_REQUEST),  # value before a group
        (lambda b: b[:8] + b"\x01\x22\x00\x01b\x00\x01\x07\x03", Status.BAD_REQUEST),  # boolean 7
        (lambda b: b[:8] + b"\x01\x21\x00\x01i\x00\x02\x00\x01\x03", Status.BAD_REQUEST),  # 2-byte int
        (lambda b: b[:8] + b"\x01\x37\x00\x00\x00\x00\x03", Status.BAD_REQUEST),  # stray endCollection
        # a collection value without a member name
        (lambda b: b[:8] + b"\x01\x34\x00\x01c\x00\x00" + INT_ONE + b"\x03", Status.BAD_REQUEST),
    ],
)
def test_malformed_requests_name_a_status(mutate: object, status: Status) -> None:
    raw = encode(_request(data=b""))
    with pytest.raises(IppCodecError) as caught:
        decode(mutate(raw))  # type: ignore[operator]
    assert caught.value.status == status


def test_the_request_id_survives_into_the_error() -> None:
    raw = encode(_request())[:-1]
    with pytest.raises(IppCodecError) as caught:
        decode(raw)
    assert caught.value.request_id == 7


def test_limits() -> None:
    many = [attr(f"a{i}", Tag.INTEGER, i) for i in range(50)]
    with pytest.raises(IppCodecError) as caught:
        decode(encode(_request(*many)), Limits(max_attributes=20))
    assert caught.value.status == Status.REQUEST_ENTITY_TOO_LARGE
    with pytest.raises(IppCodecError) as caught:
        decode(encode(_request(attr("job-name", Tag.NAME, "x" * 300))), Limits(max_value_bytes=200))
    assert caught.value.status == Status.REQUEST_VALUE_TOO_LONG
    with pytest.raises(IppCodecError) as caught:
        decode(encode(_request(*many)), Limits(max_attribute_bytes=300))
    assert caught.value.status == Status.REQUEST_ENTITY_TOO_LARGE
    nested = collection(attr("leaf", Tag.INTEGER, 1))
    for _ in range(5):
        nested = collection(attr("inner", Tag.BEGIN_COLLECTION, nested))
    with pytest.raises(IppCodecError) as caught:
        decode(encode(_request(attr("deep", Tag.BEGIN_COLLECTION, nested))), Limits(max_depth=3))
    assert caught.value.status == Status.BAD_REQUEST
    # The document data after the attributes is not counted against the attribute limits.
    assert decode(encode(_request(data=b"x" * 10_000)), Limits(max_attribute_bytes=300)).data == b"x" * 10_000


def test_an_extension_tag_is_refused() -> None:
    raw = encode(_request())[:-1] + b"\x7f\x00\x01x\x00\x04\x00\x00\x00\x01\x03"
    with pytest.raises(IppCodecError):
        decode(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_codec_errors(data: bytes) -> None:
    try:
        decode(data)
    except IppCodecError as exc:
        assert exc.status in set(Status)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.binary(min_size=1, max_size=8))
def test_truncated_or_corrupted_real_requests(cut: int, noise: bytes) -> None:
    raw = encode(
        _request(
            attr("printer-uri", Tag.URI, "ipp://h/ipp/faxout"),
            job=[
                attr(
                    "destination-uris",
                    Tag.BEGIN_COLLECTION,
                    collection(attr("destination-uri", Tag.URI, "tel:+15551234567")),
                )
            ],
        )
    )
    for candidate in (raw[:cut], raw[:cut] + noise + raw[cut + len(noise) :]):
        with contextlib.suppress(IppCodecError):
            decode(candidate)


def test_integers_are_signed_32_bit() -> None:
    decoded = decode(encode(_request(attr("n", Tag.INTEGER, -5, 2**31 - 1))))
    values = decoded.attribute(Delimiter.OPERATION, "n")
    assert values is not None and [v.data for v in values.values] == [-5, 2**31 - 1]
    assert struct.calcsize(">i") == 4
