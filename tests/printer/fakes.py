"""A FaxOutPort in memory, and request builders, for the printer's unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.ipp.codec import Attribute, Message, attr, collection, group
from connectors.ipp.constants import Delimiter, Tag
from umfax.printer.ports import FaxDestination, FaxStatus, PrintedDocument, RefusedNumber

NOW = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)


@dataclass
class MemoryPort:
    faxes: dict[int, FaxStatus] = field(default_factory=dict)
    documents: dict[int, list[PrintedDocument]] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)
    next_id: int = 1
    blocked: tuple[str, ...] = ("+1900",)
    denied_users: tuple[str, ...] = ()

    def refusal(self, user: str) -> str | None:
        return f"{user} may not send faxes" if user in self.denied_users else None

    def check(self, user: str, destination: FaxDestination) -> str:
        digits = "".join(c for c in destination.number if c.isdigit() or c == "+")
        if len(digits.lstrip("+")) < 4:
            raise RefusedNumber(f"{destination.number!r} is not a fax number")
        if digits.startswith(self.blocked):
            raise RefusedNumber(f"{digits} is blocked by the dial rules", blocked=True)
        return digits

    def submit(
        self, user: str, destinations: list[FaxDestination], documents: list[PrintedDocument], name: str
    ) -> list[int]:
        ids = []
        for destination in destinations:
            fax_id = self.next_id
            self.next_id += 1
            self.faxes[fax_id] = FaxStatus(fax_id, "pending", user, name, created=NOW)
            self.documents[fax_id] = documents
            self.numbers[fax_id] = self.check(user, destination)
            ids.append(fax_id)
        return ids

    def status(self, user: str, fax_id: int) -> FaxStatus | None:
        fax = self.faxes.get(fax_id)
        return fax if fax is not None and fax.user == user else None

    def jobs(self, user: str, *, finished: bool, limit: int) -> list[FaxStatus]:
        done = ("completed", "aborted", "canceled")
        return [f for f in self.faxes.values() if f.user == user and (f.state in done) == finished][:limit]

    def cancel(self, user: str, fax_id: int) -> str | None:
        fax = self.faxes[fax_id]
        if fax.state in ("completed", "aborted", "canceled"):
            return f"fax {fax_id} is already {fax.state}"
        self.faxes[fax_id] = FaxStatus(fax_id, "canceled", user, fax.name, message="cancelled by ann")
        return None


def request(
    operation: int,
    *operation_attributes: Attribute,
    job: list[Attribute] | None = None,
    data: bytes = b"",
    request_id: int = 1,
) -> Message:
    groups = [
        group(
            Delimiter.OPERATION,
            [
                attr("attributes-charset", Tag.CHARSET, "utf-8"),
                attr("attributes-natural-language", Tag.LANGUAGE, "en"),
                attr("printer-uri", Tag.URI, "ipp://127.0.0.1:8025/ipp/faxout"),
                attr("requesting-user-name", Tag.NAME, "ann"),
                *operation_attributes,
            ],
        )
    ]
    if job is not None:
        groups.append(group(Delimiter.JOB, job))
    return Message((2, 0), operation, request_id, groups, data)


def destinations(*uris: str, pre_dial: str = "") -> Attribute:
    members = []
    for uri in uris:
        parts = [attr("destination-uri", Tag.URI, uri)]
        if pre_dial:
            parts.append(attr("pre-dial-string", Tag.TEXT, pre_dial))
        members.append(collection(*parts))
    return attr("destination-uris", Tag.BEGIN_COLLECTION, *members)
