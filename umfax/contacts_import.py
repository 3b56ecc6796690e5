"""Address-book import: contacts from CSV (simple, or as Outlook exports it) and vCard 3/4.

:func:`read_contacts` parses an uploaded file into contacts whose fax numbers are already
normalised (by the caller's ``normalise``, :meth:`umfax.numbers.DialPlan.destination` in
the console), and a problem in words for every row or card it could not take: the row's
number, who it is, and what is wrong.  Input is bounded: at most :data:`MAX_IMPORT_BYTES`
and :data:`MAX_IMPORT_ROWS` entries; larger files are refused whole.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from umfax.errors import InvalidNumber, UmfaxError, describe_error
from umfax.store.contacts import ContactIn

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
MAX_PROBLEMS = 200
"""Problems listed; beyond this only counted."""

Normalise = Callable[[str], str]


class ImportRefused(UmfaxError):
    """The file as a whole cannot be imported (too large, not CSV or vCard, no columns)."""


@dataclass
class ImportResult:
    contacts: list[ContactIn] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: int = 0  # rows with a problem (all of them, also those past MAX_PROBLEMS)

    def refuse(self, where: str, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {reason}")


# -- shared ------------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused(
            f"the file is {len(data):,} bytes; an import takes at most {MAX_IMPORT_BYTES:,} "
            "(split it into smaller files)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # what older Outlook exports are written in


def read_contacts(filename: str, data: bytes, normalise: Normalise) -> ImportResult:
    """Contacts in ``data`` (vCard when it holds BEGIN:VCARD or is named .vcf/.vcard, else CSV)."""
    text = _text(data)
    if not text.strip():
        raise ImportRefused("the file is empty")
    is_vcard = filename.lower().endswith((".vcf", ".vcard")) or "BEGIN:VCARD" in text[:4096].upper()
    return read_vcards(text, normalise) if is_vcard else read_csv(text, normalise)


def _entry(
    result: ImportResult, where: str, name: str, number: str, normalise: Normalise, **more: str
) -> None:
    label = f"{where} ({name})" if name else where
    if not number.strip():
        result.refuse(label, "no fax number")
        return
    try:
        normalised = normalise(number)
    except InvalidNumber as exc:
        result.refuse(label, describe_error(exc))
        return
    if not name.strip():
        name = number.strip()
    result.contacts.append(ContactIn(name=name.strip(), fax_number=normalised, **more))


# -- CSV ---------------------------------------------------------------------------------------

#: Header names (lower case, without spaces, dashes, underscores) for each field, best first.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "displayname", "contact"),
    "first": ("firstname", "givenname"),
    "last": ("lastname", "surname", "familyname"),
    "company": ("company", "organization", "organisation", "org", "organization1name"),
    "fax": ("fax", "faxnumber", "fax#", "businessfax", "homefax", "otherfax", "number", "phone"),
    "email": ("email", "emailaddress", "e-mailaddress", "mail", "email1value"),
    "note": ("note", "notes", "comment", "comments"),
}


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]", "", header.strip().lower())


def _columns(header: list[str]) -> dict[str, int]:
    keys = [_key(h) for h in header]
    found: dict[str, int] = {}
    for fieldname, names in CSV_COLUMNS.items():
        for name in names:
            if _key(name) in keys:
                found[fieldname] = keys.index(_key(name))
                break
    return found


def _typed_phones(header: list[str]) -> list[tuple[int, int]]:
    """Google Contacts' "Phone 1 - Type" / "Phone 1 - Value" column pairs (type, value)."""
    keys = [_key(h) for h in header]
    pairs = []
    for index, key in enumerate(keys):
        found = re.fullmatch(r"phone(\d+)type", key)
        if found and f"phone{found.group(1)}value" in keys:
            pairs.append((index, keys.index(f"phone{found.group(1)}value")))
    return pairs


def read_csv(text: str, normalise: Normalise) -> ImportResult:
    """CSV with a header row naming the columns (name or first/last name, fax, company,
    email, note; Outlook's "Business Fax" and Google's "Phone 1 - Type" = "Work Fax" are
    understood); ``,``, ``;`` or tab separated."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(rows)
    except (StopIteration, csv.Error) as exc:
        raise ImportRefused("the CSV file has no header row") from exc
    columns = _columns(header)
    typed = _typed_phones(header)
    if "fax" not in columns and not typed:
        raise ImportRefused(
            "the CSV file has no fax number column; name one of its header columns "
            "\"fax\" (columns found: " + ", ".join(h.strip() for h in header if h.strip())[:200] + ")"
        )
    result = ImportResult()
    try:
        for line, row in enumerate(rows, start=2):
            if line - 1 > MAX_IMPORT_ROWS:
                raise ImportRefused(f"the file has more than {MAX_IMPORT_ROWS:,} rows; split it")
            if not any(cell.strip() for cell in row):
                continue

            def cell(fieldname: str, row: list[str] = row) -> str:
                index = columns.get(fieldname)
                return row[index].strip() if index is not None and index < len(row) else ""

            name = cell("name") or " ".join(p for p in (cell("first"), cell("last")) if p)
            fax = cell("fax") or next(
                (row[v].strip() for t, v in typed if v < len(row) and "fax" in row[t].lower()), ""
            )
            _entry(
                result, f"row {line}", name, fax, normalise,
                company=cell("company"), email=cell("email"), note=cell("note"),
            )
    except csv.Error as exc:
        raise ImportRefused(f"the CSV file cannot be read: {describe_error(exc)}") from exc
    return result


# -- vCard -------------------------------------------------------------------------------------


def _unfold(text: str) -> Iterator[str]:
    """Content lines of RFC 6350 / 2426 text: a line starting with a space or tab continues
    the one before."""
    current: str | None = None
    for raw in text.splitlines():
        if raw[:1] in (" ", "\t") and current is not None:
            current += raw[1:]
            continue
        if current is not None:
            yield current
        current = raw
    if current is not None:
        yield current


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\,;nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _parse_line(line: str) -> tuple[str, set[str], str]:
    """(property name, its TYPE values and bare parameters in lower case, value)."""
    head, _, value = line.partition(":")
    parts = head.split(";")
    name = parts[0].split(".")[-1].upper()  # "item1.TEL" -> TEL
    types: set[str] = set()
    for param in parts[1:]:
        key, eq, val = param.partition("=")
        if not eq:  # vCard 2.1 style: TEL;WORK;FAX
            types.add(key.strip().lower())
        elif key.strip().upper() == "TYPE":
            types.update(t.strip().strip('"').lower() for t in val.split(","))
    return name, types, value


@dataclass
class _Card:
    names: dict[str, str] = field(default_factory=dict)
    faxes: list[tuple[int, str]] = field(default_factory=list)  # (preference rank, number)


def read_vcards(text: str, normalise: Normalise) -> ImportResult:
    """vCard 3.0 and 4.0 (and 2.1's bare TEL;FAX) cards: the name (FN, else N), ORG,
    the first EMAIL and NOTE, and the TEL whose type includes "fax" (work fax first)."""
    result = ImportResult()
    card: _Card | None = None
    count = 0
    for line in _unfold(text):
        name, types, value = _parse_line(line)
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            count += 1
            if count > MAX_IMPORT_ROWS:
                raise ImportRefused(f"the file has more than {MAX_IMPORT_ROWS:,} cards; split it")
            card = _Card()
        elif name == "END" and value.strip().upper() == "VCARD" and card is not None:
            _finish(result, count, card, normalise)
            card = None
        elif card is not None:
            _property(card, name, types, value)
    if count == 0:
        raise ImportRefused("the file holds no vCard (BEGIN:VCARD ... END:VCARD)")
    if card is not None:
        result.refuse(f"card {count}", "it has no END:VCARD (the file is cut short)")
    return result


def _property(card: _Card, name: str, types: set[str], value: str) -> None:
    if name == "TEL" and "fax" in types:
        number = value.strip()
        if number.lower().startswith("tel:"):  # vCard 4: VALUE=uri
            number = number[4:].split(";")[0]
        card.faxes.append((0 if "work" in types else 1, _unescape(number)))
    elif name == "FN":
        card.names.setdefault("fn", _unescape(value).strip())
    elif name == "N":
        parts = [_unescape(p).strip() for p in re.split(r"(?<!\\);", value)]
        given = parts[1] if len(parts) > 1 else ""
        card.names.setdefault("n", " ".join(p for p in (given, parts[0]) if p))
    elif name == "ORG":
        card.names.setdefault("org", _unescape(re.split(r"(?<!\\);", value)[0]).strip())
    elif name == "EMAIL":
        card.names.setdefault("email", value.strip())
    elif name == "NOTE":
        card.names.setdefault("note", _unescape(value).strip())


def _finish(result: ImportResult, count: int, card: _Card, normalise: Normalise) -> None:
    name = card.names.get("fn") or card.names.get("n") or ""
    number = min(card.faxes, key=lambda fax: fax[0])[1] if card.faxes else ""
    if not number:
        label = f"card {count} ({name})" if name else f"card {count}"
        result.refuse(label, "no fax number (a TEL with TYPE=fax)")
        return
    _entry(
        result, f"card {count}", name, number, normalise,
        company=card.names.get("org", ""), email=card.names.get("email", ""),
        note=card.names.get("note", ""),
    )
