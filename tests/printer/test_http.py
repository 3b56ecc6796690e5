"""/ipp/faxout over HTTP: who may print, bad bodies, chunked bodies."""

from __future__ import annotations

import pytest
import requests

from connectors.ipp.codec import Message, attr, decode, encode
from connectors.ipp.constants import Delimiter, Operation, Status, Tag
from tests.printer.conftest import PASSWORD, PrinterSite
from tests.printer.fakes import destinations, request

PDF = b"%PDF-1.4\n%%EOF\n"


def _post(
    site: PrinterSite, body: bytes, auth: tuple[str, str] | None = None, **kwargs: object
) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{site.port}/ipp/faxout",
        data=body,
        headers={"Content-Type": "application/ipp"},
        auth=auth,
        timeout=30,
        **kwargs,  # type: ignore[arg-type]
    )


def _print_job(number: str = "tel:+15551234567") -> bytes:
    return encode(request(Operation.PRINT_JOB, job=[destinations(number)], data=PDF))


def _answer(response: requests.Response) -> Message:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ipp"
    return decode(response.content)


def test_printing_needs_a_sign_in(printer_site: PrinterSite) -> None:
    anonymous = _post(printer_site, _print_job())
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    wrong = _post(printer_site, _print_job(), auth=("ann", "wrong password"))
    assert wrong.status_code == 401
    assert printer_site.store.list_jobs(limit=5) == []
    by_email = _answer(_post(printer_site, _print_job(), auth=("ann@example.com", PASSWORD)))
    assert by_email.code == Status.OK
    by_key = _answer(_post(printer_site, _print_job(), auth=("", printer_site.keys["bob"])))
    assert by_key.code == Status.OK
    assert len(printer_site.store.list_jobs(limit=5)) == 2


def test_the_printer_describes_itself_to_anyone(printer_site: PrinterSite) -> None:
    answer = _answer(_post(printer_site, encode(request(Operation.GET_PRINTER_ATTRIBUTES))))
    assert answer.code == Status.OK
    uri = answer.attribute(Delimiter.PRINTER, "printer-uri-supported")
    assert uri is not None and uri.first == f"ipp://127.0.0.1:{printer_site.port}/ipp/faxout"


def test_a_user_who_may_not_send_is_told_so(printer_site: PrinterSite) -> None:
    answer = _answer(_post(printer_site, _print_job(), auth=("mute", PASSWORD)))
    assert answer.code == Status.NOT_AUTHORIZED
    message = answer.attribute(Delimiter.OPERATION, "status-message")
    assert message is not None and "may not send" in str(message.first)


def test_requesting_user_name_is_not_believed_by_default(printer_site: PrinterSite) -> None:
    assert _post(printer_site, _print_job()).status_code == 401  # it says "ann", unchecked


@pytest.mark.printer_settings({"printer": {"trusted_networks": ["127.0.0.0/8"]}})
def test_requesting_user_name_from_a_trusted_network(printer_site: PrinterSite) -> None:
    answer = _answer(_post(printer_site, _print_job()))
    assert answer.code == Status.OK
    (job,) = printer_site.store.list_jobs(limit=5)
    assert job.user_id == printer_site.store.find_user(email="ann@example.com").id  # type: ignore[union-attr]
    unknown = encode(request(Operation.PRINT_JOB, attr("requesting-user-name", Tag.NAME, "x"), job=[]))
    assert _post(printer_site, unknown).status_code in (200, 401)


def test_garbage_gets_an_ipp_error_and_the_server_stays_up(printer_site: PrinterSite) -> None:
    for body in (b"", b"\x02\x00", b"\x02\x00\x00\x0b\x00\x00\x00\x01\x01\x47\xff\xff", b"x" * 5000):
        answer = _answer(_post(printer_site, body, auth=("ann", PASSWORD)))
        assert answer.code in (Status.BAD_REQUEST, Status.VERSION_NOT_SUPPORTED)
    huge = request(Operation.GET_PRINTER_ATTRIBUTES, attr("job-name", Tag.NAME, "x" * 20_000))
    answer = _answer(_post(printer_site, encode(huge)))
    assert answer.code == Status.REQUEST_VALUE_TOO_LONG
    wrong_type = requests.post(f"http://127.0.0.1:{printer_site.port}/ipp/faxout", data=b"x", timeout=30)
    assert wrong_type.status_code == 400
    assert _answer(_post(printer_site, encode(request(Operation.GET_PRINTER_ATTRIBUTES)))).code == Status.OK


def test_a_chunked_body(printer_site: PrinterSite) -> None:
    body = _print_job()
    chunks = iter([body[:10], body[10:100], body[100:]])  # a generator: requests sends it chunked
    answer = _answer(_post(printer_site, chunks, auth=("ann", PASSWORD)))  # type: ignore[arg-type]
    assert answer.code == Status.OK
    assert len(printer_site.store.list_jobs(limit=5)) == 1
