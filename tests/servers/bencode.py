"""Bencode (the encoding of rtpengine's ng control protocol): integers, byte strings,
lists and dictionaries.  Strings are encoded as UTF-8; decoding gives ``str`` where the
bytes are UTF-8 and ``bytes`` otherwise (rtpengine sends text)."""

from __future__ import annotations

from typing import Any

Value = int | str | bytes | list[Any] | dict[str, Any]


class BencodeError(ValueError):
    pass


def encode(value: Value) -> bytes:
    """The bencoding of ``value``; dictionary keys are sorted as the format wants."""
    if isinstance(value, bool):
        raise BencodeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list | tuple):
        return b"l" + b"".join(encode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(encode(k) + encode(v) for k, v in items) + b"e"
    raise BencodeError(f"cannot bencode {type(value).__name__}")


def decode(data: bytes) -> Value:
    """The value ``data`` encodes; raises BencodeError on malformed or trailing input."""
    value: Value
    value, end = _decode(data, 0)
    if end != len(data):
        raise BencodeError(f"{len(data) - end} trailing bytes")
    return value


def _decode(data: bytes, pos: int) -> tuple[Any, int]:
    try:
        lead = data[pos : pos + 1]
        if lead == b"i":
            end = data.index(b"e", pos)
            return int(data[pos + 1 : end]), end + 1
        if lead in (b"l", b"d"):
            items: list[Any] = []
            pos += 1
            while data[pos : pos + 1] != b"e":
                item, pos = _decode(data, pos)
                items.append(item)
            if lead == b"l":
                return items, pos + 1
            if len(items) % 2:
                raise BencodeError("dictionary with a key and no value")
            keys = [k.decode() if isinstance(k, bytes) else k for k in items[::2]]
            return dict(zip(keys, items[1::2], strict=True)), pos + 1
        if lead.isdigit():
            colon = data.index(b":", pos)
            start = colon + 1
            end = start + int(data[pos:colon])
            if end > len(data):
                raise BencodeError("string runs past the end")
            raw = data[start:end]
            try:
                return raw.decode(), end
            except UnicodeDecodeError:
                return raw, end
    except (ValueError, IndexError) as exc:
        if isinstance(exc, BencodeError):
            raise
        raise BencodeError(f"malformed at offset {pos}") from exc
    raise BencodeError(f"unexpected {lead!r} at offset {pos}")
