"""The FaxOut printer's operations, sans-IO, against a port in memory."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from connectors.ipp.codec import Message, attr, decode, encode
from connectors.ipp.constants import Delimiter, JobState, Operation, Status, Tag
from connectors.ipp.description import PrinterSettings
from connectors.ipp.printer import OPEN_JOB_IDS, FaxOutPrinter, Requester, tel_number
from tests.printer.fakes import NOW, MemoryPort, destinations, request
from umfax.printer.ports import FaxStatus

WHO = Requester("ann", "ipp://127.0.0.1:8025/ipp/faxout", NOW)
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def port() -> MemoryPort:
    return MemoryPort()


@pytest.fixture
def printer(port: MemoryPort) -> FaxOutPrinter:
    return FaxOutPrinter(port, PrinterSettings(name="Fax", started=NOW))


def _handle(printer: FaxOutPrinter, message: Message, who: Requester = WHO) -> Message:
    answer = printer.handle(decode(encode(message)), who)
    return decode(encode(answer))  # what goes on the wire reads back


def _status_message(answer: Message) -> str:
    found = answer.attribute(Delimiter.OPERATION, "status-message")
    return str(found.first) if found is not None else ""


def test_get_printer_attributes_advertises_faxout(printer: FaxOutPrinter) -> None:
    answer = _handle(printer, request(Operation.GET_PRINTER_ATTRIBUTES))
    assert answer.code == Status.OK
    printer_group = answer.group(Delimiter.PRINTER)
    assert printer_group is not None
    values = {name: a.values for name, a in printer_group.attributes.items()}
    assert [v.data for v in values["ipp-features-supported"]] == ["faxout"]
    assert values["destination-uri-schemes-supported"][0].tag == Tag.URI_SCHEME
    assert values["multiple-destination-uris-supported"][0].data is True
    assert "media-col-supported" in values
    formats = [v.data for v in values["document-format-supported"]]
    for kind in ("application/pdf", "image/pwg-raster", "image/urf", "image/jpeg", "text/plain"):
        assert kind in formats
    assert values["printer-uri-supported"][0].data == WHO.printer_uri
    ops = {v.data for v in values["operations-supported"]}
    assert {Operation.PRINT_JOB, Operation.CREATE_JOB, Operation.SEND_DOCUMENT} <= ops


def test_requested_attributes_narrow_the_answer(printer: FaxOutPrinter) -> None:
    asked = attr("requested-attributes", Tag.KEYWORD, "printer-state", "printer-name")
    answer = _handle(printer, request(Operation.GET_PRINTER_ATTRIBUTES, asked))
    printer_group = answer.group(Delimiter.PRINTER)
    assert printer_group is not None and set(printer_group.attributes) == {"printer-state", "printer-name"}


def test_print_job_becomes_a_fax(
    printer: FaxOutPrinter, port: MemoryPort, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every log record is made (an extra= key may not clash)
    job = [destinations("tel:+1(555)123-4567")]
    answer = _handle(
        printer,
        request(
            Operation.PRINT_JOB, attr("document-format", Tag.MIME_TYPE, "application/pdf"), job=job, data=PDF
        ),
    )
    assert answer.code == Status.OK, _status_message(answer)
    job_id = answer.attribute(Delimiter.JOB, "job-id")
    assert job_id is not None and job_id.first == 1
    assert port.numbers[1] == "+15551234567"
    assert port.documents[1][0].data == PDF and port.documents[1][0].format == "application/pdf"
    port.faxes[1] = replace(port.faxes[1], state="processing", pages_sent=2, pages=3)
    following = _handle(printer, request(Operation.GET_JOB_ATTRIBUTES, attr("job-id", Tag.INTEGER, 1)))
    assert following.attribute(Delimiter.JOB, "job-state").first == JobState.PROCESSING  # type: ignore[union-attr]
    assert following.attribute(Delimiter.JOB, "job-impressions-completed").first == 2  # type: ignore[union-attr]
    port.faxes[1] = replace(port.faxes[1], state="aborted", message="busy 3 times")
    failed = _handle(printer, request(Operation.GET_JOB_ATTRIBUTES, attr("job-id", Tag.INTEGER, 1)))
    assert failed.attribute(Delimiter.JOB, "job-state").first == JobState.ABORTED  # type: ignore[union-attr]
    assert failed.attribute(Delimiter.JOB, "job-state-message").first == "busy 3 times"  # type: ignore[union-attr]


def test_a_blocked_number_is_refused_at_validate_job(printer: FaxOutPrinter, port: MemoryPort) -> None:
    answer = _handle(printer, request(Operation.VALIDATE_JOB, job=[destinations("tel:+19005551234")]))
    assert answer.code == Status.NOT_POSSIBLE
    assert "blocked" in _status_message(answer)
    assert answer.group(Delimiter.UNSUPPORTED) is not None
    assert not port.faxes


@pytest.mark.parametrize(
    ("job", "status"),
    [
        ([], Status.BAD_REQUEST),  # no destination-uris
        ([destinations("mailto:a@example.com")], Status.URI_SCHEME_NOT_SUPPORTED),
        ([destinations("tel:12")], Status.NOT_POSSIBLE),
    ],
)
def test_create_job_needs_a_good_destination(printer: FaxOutPrinter, job: list, status: Status) -> None:  # type: ignore[type-arg]
    answer = _handle(printer, request(Operation.CREATE_JOB, job=job))
    assert answer.code == status
    assert _status_message(answer)


def test_create_job_then_send_document(printer: FaxOutPrinter, port: MemoryPort) -> None:
    job = [destinations("tel:4055551212", "ipp://11.22.33.44/ipp/print", pre_dial="9")]
    created = _handle(printer, request(Operation.CREATE_JOB, job=job))
    assert created.code == Status.OK_IGNORED_OR_SUBSTITUTED  # the ipp: destination is ignored
    job_id = created.attribute(Delimiter.JOB, "job-id").first  # type: ignore[union-attr]
    assert isinstance(job_id, int) and job_id >= OPEN_JOB_IDS
    waiting = _handle(printer, request(Operation.GET_JOB_ATTRIBUTES, attr("job-id", Tag.INTEGER, job_id)))
    assert waiting.attribute(Delimiter.JOB, "job-state").first == JobState.PENDING  # type: ignore[union-attr]
    sent = _handle(
        printer,
        request(
            Operation.SEND_DOCUMENT,
            attr("job-id", Tag.INTEGER, job_id),
            attr("last-document", Tag.BOOLEAN, True),
            attr("document-format", Tag.MIME_TYPE, "image/urf"),
            data=b"UNIRAST\x00",
        ),
    )
    assert sent.code == Status.OK, _status_message(sent)
    assert port.documents[1][0].format == "image/urf"
    port.faxes[1] = replace(port.faxes[1], state="completed", pages_sent=1)
    done = _handle(printer, request(Operation.GET_JOB_ATTRIBUTES, attr("job-id", Tag.INTEGER, job_id)))
    assert done.attribute(Delimiter.JOB, "job-state").first == JobState.COMPLETED  # type: ignore[union-attr]
    again = _handle(
        printer,
        request(Operation.SEND_DOCUMENT, attr("job-id", Tag.INTEGER, job_id),
                attr("last-document", Tag.BOOLEAN, True), data=PDF),
    )  # fmt: skip
    assert again.code == Status.NOT_POSSIBLE


def test_several_numbers_make_several_faxes(printer: FaxOutPrinter, port: MemoryPort) -> None:
    job = [destinations("tel:+15551230001", "tel:+15551230002")]
    answer = _handle(printer, request(Operation.PRINT_JOB, job=job, data=PDF))
    assert answer.code == Status.OK
    assert sorted(port.faxes) == [1, 2]
    port.faxes[1] = replace(port.faxes[1], state="completed", pages_sent=1)
    state = _handle(printer, request(Operation.GET_JOB_ATTRIBUTES, attr("job-id", Tag.INTEGER, 1)))
    assert state.attribute(Delimiter.JOB, "job-state").first == JobState.PENDING  # type: ignore[union-attr]


def test_unsupported_format_and_compression(printer: FaxOutPrinter) -> None:
    job = [destinations("tel:+15551234567")]
    answer = _handle(
        printer,
        request(
            Operation.PRINT_JOB,
            attr("document-format", Tag.MIME_TYPE, "application/postscript"),
            job=job,
            data=b"%!",
        ),
    )
    assert answer.code == Status.DOCUMENT_FORMAT_NOT_SUPPORTED
    answer = _handle(
        printer, request(Operation.PRINT_JOB, attr("compression", Tag.KEYWORD, "gzip"), job=job, data=PDF)
    )
    assert answer.code == Status.COMPRESSION_NOT_SUPPORTED


def test_other_users_jobs_are_not_found(printer: FaxOutPrinter, port: MemoryPort) -> None:
    _handle(printer, request(Operation.PRINT_JOB, job=[destinations("tel:+15551234567")], data=PDF))
    bob = Requester("bob", WHO.printer_uri, NOW)
    answer = _handle(printer, request(Operation.GET_JOB_ATTRIBUTES, attr("job-id", Tag.INTEGER, 1)), bob)
    assert answer.code == Status.NOT_FOUND
    answer = _handle(printer, request(Operation.CANCEL_JOB, attr("job-id", Tag.INTEGER, 1)), bob)
    assert answer.code == Status.NOT_FOUND


def test_get_jobs_and_cancel(printer: FaxOutPrinter, port: MemoryPort) -> None:
    _handle(printer, request(Operation.PRINT_JOB, job=[destinations("tel:+15551234567")], data=PDF))
    listed = _handle(printer, request(Operation.GET_JOBS))
    assert [g.attributes["job-id"].first for g in listed.groups if g.tag == Delimiter.JOB] == [1]
    cancelled = _handle(printer, request(Operation.CANCEL_JOB, attr("job-id", Tag.INTEGER, 1)))
    assert cancelled.code == Status.OK
    assert port.faxes[1].state == "canceled"
    again = _handle(printer, request(Operation.CANCEL_JOB, attr("job-id", Tag.INTEGER, 1)))
    assert again.code == Status.NOT_POSSIBLE
    done = _handle(printer, request(Operation.GET_JOBS, attr("which-jobs", Tag.KEYWORD, "completed")))
    assert [g.attributes["job-id"].first for g in done.groups if g.tag == Delimiter.JOB] == [1]


def test_a_user_who_may_not_send_is_refused(port: MemoryPort) -> None:
    port.denied_users = ("ann",)
    printer = FaxOutPrinter(port, PrinterSettings(started=NOW))
    answer = _handle(printer, request(Operation.PRINT_JOB, job=[destinations("tel:+15551234567")], data=PDF))
    assert answer.code == Status.NOT_AUTHORIZED
    assert "may not send" in _status_message(answer)


def test_bad_operation_groups(printer: FaxOutPrinter) -> None:
    bare = Message((2, 0), Operation.GET_PRINTER_ATTRIBUTES, 3, [])
    assert _handle(printer, bare).code == Status.BAD_REQUEST
    unknown = request(0x4001)
    assert _handle(printer, unknown).code == Status.OPERATION_NOT_SUPPORTED


def test_tel_numbers() -> None:
    assert tel_number("tel:+1(555)123-4567") == "+1(555)123-4567"
    assert tel_number("tel:4055551212;phone-context=+1") == "4055551212"
    assert tel_number("TEL:%2B44%2020") == "+44 20"
    with pytest.raises(ValueError):
        tel_number("tel:")


def test_statuses_are_reported_for_finished_faxes(printer: FaxOutPrinter, port: MemoryPort) -> None:
    port.faxes[7] = FaxStatus(7, "completed", "ann", "old", pages_sent=2, pages=2, created=NOW, finished=NOW)
    answer = _handle(printer, request(Operation.GET_JOB_ATTRIBUTES, attr("job-id", Tag.INTEGER, 7)))
    assert answer.attribute(Delimiter.JOB, "job-impressions").first == 2  # type: ignore[union-attr]
    assert answer.attribute(Delimiter.JOB, "time-at-completed").tag == Tag.INTEGER  # type: ignore[union-attr]


def test_a_fault_of_the_port_is_an_internal_error_not_a_dropped_connection(port: MemoryPort) -> None:
    from connectors.ipp.endpoint import IppEndpoint

    def broken(*_args: object) -> list[int]:
        raise RuntimeError("the store is on fire")

    port.submit = broken  # type: ignore[method-assign]
    endpoint = IppEndpoint(FaxOutPrinter(port, PrinterSettings(started=NOW)), clock=lambda: NOW)
    body = encode(request(Operation.PRINT_JOB, job=[destinations("tel:+15551234567")], data=PDF))
    answer = endpoint.respond(body, "ann", None, WHO.printer_uri)
    assert answer is not None and decode(answer).code == Status.INTERNAL_ERROR
    assert endpoint.respond(body, None, None, WHO.printer_uri) is None  # sign in first
