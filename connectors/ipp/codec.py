"""The IPP message encoding (RFC 8010) as a sans-IO codec: bytes in, messages out, and back.

A message is a version, an operation id (requests) or status code (responses), a request
id, attribute groups, and the document data after the end-of-attributes tag.  Every value
tag is read: integers, enums, booleans, octet strings, dates, resolutions, ranges,
collections (``media-col``, ``destination-uris``) with their member attributes, text and
names with or without a language, and the out-of-band values (``no-value`` ...); a tag we
do not know is kept as raw bytes, as RFC 8010 3.5.2 asks.

Decoding is bounded (:class:`Limits`): the number of attributes and values, the length of
one value, the bytes of the whole attribute section and how deep collections nest.  Input
that breaks a limit or the grammar raises :class:`IppCodecError` carrying the IPP status the
response should have, so a malformed request costs one error response, never more memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Union

from connectors.ipp.constants import OUT_OF_BAND, STRING_TAGS, Delimiter, Status, Tag


class IppError(Exception):
    """The root of the IPP connector's errors: ``status`` is what the response says."""

    def __init__(self, status: Status, message: str, groups: list[Group] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.groups = groups or []  # e.g. the unsupported-attributes group to send back


class IppCodecError(IppError):
    """A message that cannot be read (or is too large to): answered with ``status``.

    ``request_id`` and ``version`` are those of the request when its header was readable."""

    def __init__(
        self, status: Status, message: str, request_id: int = 0, version: tuple[int, int] = (1, 1)
    ) -> None:
        super().__init__(status, message)
        self.request_id = request_id
        self.version = version


@dataclass(frozen=True, slots=True)
class Resolution:
    x: int
    y: int
    units: int = 3  # 3: dots per inch, 4: dots per centimetre


@dataclass(frozen=True, slots=True)
class Localized:
    """textWithLanguage / nameWithLanguage."""

    language: str
    text: str


ValueData = Union[int, bool, str, bytes, None, Resolution, Localized, tuple[int, int], "Collection"]


@dataclass(frozen=True, slots=True)
class Value:
    """One value and its tag (the values of a 1setOf attribute may have different tags)."""

    tag: int
    data: ValueData


@dataclass(slots=True)
class Attribute:
    name: str
    values: list[Value]

    @property
    def first(self) -> ValueData:
        return self.values[0].data if self.values else None

    @property
    def tag(self) -> int:
        return self.values[0].tag if self.values else Tag.NO_VALUE

    def strings(self) -> list[str]:
        """The values as text (names and texts with a language give their text)."""
        out = []
        for value in self.values:
            if isinstance(value.data, str):
                out.append(value.data)
            elif isinstance(value.data, Localized):
                out.append(value.data.text)
        return out


#: A collection: its member attributes by name, in order.
Collection = dict[str, Attribute]


@dataclass(slots=True)
class Group:
    tag: int
    attributes: dict[str, Attribute] = field(default_factory=dict)

    def get(self, name: str) -> Attribute | None:
        return self.attributes.get(name)


@dataclass(slots=True)
class Message:
    """A request (``code`` is the operation id) or a response (``code`` is the status)."""

    version: tuple[int, int]
    code: int
    request_id: int
    groups: list[Group]
    data: bytes = b""

    def group(self, tag: int) -> Group | None:
        return next((g for g in self.groups if g.tag == tag), None)

    def attribute(self, tag: int, name: str) -> Attribute | None:
        group = self.group(tag)
        return group.get(name) if group is not None else None


@dataclass(frozen=True, slots=True)
class Limits:
    """How much a request may hold before it is refused."""

    max_attributes: int = 1000  # attributes, collection members and extra values together
    max_value_bytes: int = 4096  # one value (IPP allows 32767)
    max_attribute_bytes: int = 256 * 1024  # the whole attribute section
    max_depth: int = 8  # collections within collections


# -- decoding ------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("count", "data", "limits", "pos", "request_id", "version")

    def __init__(self, data: bytes, limits: Limits) -> None:
        self.data, self.limits = data, limits
        self.pos, self.count = 8, 0
        self.version, self.request_id = (1, 1), 0

    def fail(self, status: Status, message: str) -> IppCodecError:
        return IppCodecError(status, message, self.request_id, self.version)

    def take(self, size: int, what: str) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise self.fail(Status.BAD_REQUEST, f"the request ends inside {what}")
        if end > self.limits.max_attribute_bytes + 8:
            raise self.fail(
                Status.REQUEST_ENTITY_TOO_LARGE,
                f"the attributes are longer than {self.limits.max_attribute_bytes} bytes",
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def short(self, what: str) -> int:
        value: int = struct.unpack(">H", self.take(2, what))[0]
        return value

    def item(self) -> tuple[int, str, bytes]:
        """One attribute-with-one-value or additional-value: tag, name, value bytes."""
        tag = self.take(1, "a value tag")[0]
        if tag == 0x7F:
            raise self.fail(Status.BAD_REQUEST, "extended (0x7F) value tags are not supported")
        name_bytes = self.take(self.short("a name length"), "an attribute name")
        length = self.short("a value length")
        if length > self.limits.max_value_bytes:
            raise self.fail(
                Status.REQUEST_VALUE_TOO_LONG,
                f"a value of {length} bytes is longer than {self.limits.max_value_bytes}",
            )
        raw = self.take(length, "a value")
        self.count += 1
        if self.count > self.limits.max_attributes:
            raise self.fail(
                Status.REQUEST_ENTITY_TOO_LARGE, f"more than {self.limits.max_attributes} attribute values"
            )
        try:
            name = name_bytes.decode("ascii")
        except UnicodeDecodeError as exc:
            raise self.fail(Status.BAD_REQUEST, "an attribute name is not US-ASCII") from exc
        return tag, name, raw

    def value(self, tag: int, raw: bytes, name: str, depth: int) -> Value:
        if tag == Tag.BEGIN_COLLECTION:
            return Value(tag, self.collection(name, depth + 1))
        try:
            return Value(tag, _decode_value(tag, raw))
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            raise self.fail(
                Status.BAD_REQUEST, f"{name or 'a value'}: malformed value for tag 0x{tag:02x}"
            ) from exc

    def collection(self, name: str, depth: int) -> Collection:
        if depth > self.limits.max_depth:
            raise self.fail(
                Status.BAD_REQUEST, f"{name}: collections nested deeper than {self.limits.max_depth}"
            )
        members: Collection = {}
        current: Attribute | None = None
        while True:
            tag, item_name, raw = self.item()
            if item_name:
                raise self.fail(Status.BAD_REQUEST, f"{name}: a named attribute inside a collection")
            if tag == Tag.END_COLLECTION:
                return members
            if tag == Tag.MEMBER_NAME:
                member = raw.decode("ascii", "replace")
                if not member:
                    raise self.fail(Status.BAD_REQUEST, f"{name}: a member without a name")
                tag, item_name, raw = self.item()
                if item_name or tag in (Tag.END_COLLECTION, Tag.MEMBER_NAME) or tag <= 0x0F:
                    raise self.fail(Status.BAD_REQUEST, f"{name}.{member}: a member without a value")
                current = Attribute(member, [self.value(tag, raw, member, depth)])
                members[member] = current
            elif current is None or tag <= 0x0F:
                raise self.fail(Status.BAD_REQUEST, f"{name}: a value before any member name")
            else:
                current.values.append(self.value(tag, raw, current.name, depth))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8")


def _decode_value(tag: int, raw: bytes) -> ValueData:
    if tag in OUT_OF_BAND:
        return None
    if tag in (Tag.INTEGER, Tag.ENUM):
        value: int = struct.unpack(">i", raw)[0]
        return value
    if tag == Tag.BOOLEAN:
        if raw not in (b"\x00", b"\x01"):
            raise ValueError("boolean")
        return raw == b"\x01"
    if tag == Tag.RESOLUTION:
        x, y, units = struct.unpack(">iib", raw)
        return Resolution(x, y, units)
    if tag == Tag.RANGE:
        low, high = struct.unpack(">ii", raw)
        return (low, high)
    if tag == Tag.DATE_TIME:
        if len(raw) != 11:
            raise ValueError("dateTime")
        return raw
    if tag in (Tag.TEXT_WITH_LANGUAGE, Tag.NAME_WITH_LANGUAGE):
        size = struct.unpack(">H", raw[:2])[0]
        language = raw[2 : 2 + size].decode("ascii")
        rest = raw[2 + size :]
        text_size = struct.unpack(">H", rest[:2])[0]
        if len(rest) != 2 + text_size or len(language) != size:
            raise ValueError("withLanguage")
        return Localized(language, _text(rest[2:]))
    if tag in (Tag.TEXT, Tag.NAME):
        return _text(raw)
    if tag in STRING_TAGS:
        return raw.decode("ascii")
    return bytes(raw)  # octetString, and tags we do not know: kept as they came


def decode(data: bytes, limits: Limits = Limits()) -> Message:
    """Read one IPP message (request or response) and the data after it."""
    reader = _Reader(data, limits)
    if len(data) < 9:
        raise IppCodecError(Status.BAD_REQUEST, "not an IPP message: shorter than its header")
    major, minor, code, request_id = struct.unpack(">bbHi", data[:8])
    reader.version, reader.request_id = (major, minor), request_id
    if major not in (1, 2):
        raise reader.fail(Status.VERSION_NOT_SUPPORTED, f"IPP version {major}.{minor} is not supported")
    groups: list[Group] = []
    current: Group | None = None
    last: Attribute | None = None
    while True:
        if reader.pos >= len(data):
            raise reader.fail(Status.BAD_REQUEST, "the request ends before its end-of-attributes tag")
        tag = data[reader.pos]
        if tag <= 0x0F:
            reader.pos += 1
            if tag == Delimiter.END:
                break
            if tag == 0:
                raise reader.fail(Status.BAD_REQUEST, "reserved delimiter tag 0x00")
            current, last = Group(tag), None
            groups.append(current)
            continue
        if current is None:
            raise reader.fail(Status.BAD_REQUEST, "an attribute before any attribute group")
        tag, name, raw = reader.item()
        if tag in (Tag.END_COLLECTION, Tag.MEMBER_NAME):
            raise reader.fail(Status.BAD_REQUEST, f"tag 0x{tag:02x} outside a collection")
        if name:
            if name in current.attributes:
                raise reader.fail(Status.BAD_REQUEST, f"{name} appears twice in one group")
            last = Attribute(name, [reader.value(tag, raw, name, 0)])
            current.attributes[name] = last
        elif last is None:
            raise reader.fail(Status.BAD_REQUEST, "an additional value before any attribute")
        else:
            last.values.append(reader.value(tag, raw, last.name, 0))
    return Message((major, minor), code, request_id, groups, data[reader.pos :])


# -- encoding ------------------------------------------------------------------------------


def _encode_value(tag: int, data: ValueData) -> bytes:
    if tag in OUT_OF_BAND:
        return b""
    if isinstance(data, bool):
        return b"\x01" if data else b"\x00"
    if isinstance(data, int):
        return struct.pack(">i", data)
    if isinstance(data, Resolution):
        return struct.pack(">iib", data.x, data.y, data.units)
    if isinstance(data, tuple):
        return struct.pack(">ii", *data)
    if isinstance(data, Localized):
        language, text = data.language.encode("ascii"), data.text.encode("utf-8")
        return struct.pack(">H", len(language)) + language + struct.pack(">H", len(text)) + text
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes):
        return data
    raise TypeError(f"cannot encode {data!r} with tag 0x{tag:02x}")


def _item(tag: int, name: str, raw: bytes) -> bytes:
    encoded = name.encode("ascii")
    return struct.pack(">BH", tag, len(encoded)) + encoded + struct.pack(">H", len(raw)) + raw


def _encode_attribute(attribute: Attribute, out: list[bytes]) -> None:
    for index, value in enumerate(attribute.values):
        name = attribute.name if index == 0 else ""
        if value.tag == Tag.BEGIN_COLLECTION:
            assert isinstance(value.data, dict)
            out.append(_item(Tag.BEGIN_COLLECTION, name, b""))
            for member in value.data.values():
                out.append(_item(Tag.MEMBER_NAME, "", member.name.encode("ascii")))
                _encode_attribute(Attribute("", member.values), out)
            out.append(_item(Tag.END_COLLECTION, "", b""))
        else:
            out.append(_item(value.tag, name, _encode_value(value.tag, value.data)))


def encode(message: Message) -> bytes:
    """The bytes of ``message``, its data after the end-of-attributes tag."""
    major, minor = message.version
    out = [struct.pack(">bbHi", major, minor, message.code, message.request_id)]
    for group in message.groups:
        out.append(bytes([group.tag]))
        for attribute in group.attributes.values():
            _encode_attribute(attribute, out)
    out.append(bytes([Delimiter.END]))
    out.append(message.data)
    return b"".join(out)


# -- building attributes -------------------------------------------------------------------


def attr(name: str, tag: int, *values: ValueData) -> Attribute:
    """An attribute whose values share one tag (``attr("copies", Tag.INTEGER, 1)``)."""
    return Attribute(name, [Value(tag, v) for v in values] or [Value(Tag.NO_VALUE, None)])


def collection(*members: Attribute) -> Collection:
    return {member.name: member for member in members}


def group(tag: int, attributes: Iterable[Attribute]) -> Group:
    return Group(tag, {a.name: a for a in attributes})


def date_time(when: datetime) -> bytes:
    """RFC 2579 DateAndTime, in UTC."""
    when = when.astimezone(UTC)
    return struct.pack(
        ">HBBBBBBcBB",
        when.year, when.month, when.day, when.hour, when.minute, when.second,
        when.microsecond // 100_000, b"+", 0, 0,
    )  # fmt: skip
