"""The FaxOut printer (PWG 5100.15) as a sans-IO state machine: a decoded request and who
sent it in, the response out.

Operations: Get-Printer-Attributes, Validate-Job, Print-Job, Create-Job, Send-Document,
Close-Job, Get-Job-Attributes, Get-Jobs, Cancel-Job, Identify-Printer.  A job's
``destination-uris`` (``tel:`` URIs) become one fax per number through the
:class:`~connectors.ipp.port.FaxOutPort`, which checks them against the dial rules first:
a refused number fails Validate-Job, Create-Job and Print-Job with a ``status-message``
the print dialog shows.

Job ids: a Print-Job's IPP job id is the umfax id of its (first) fax, so it can be
followed after a restart too.  A Create-Job job has no fax until its document arrives;
it gets an id from ``OPEN_JOB_IDS`` on (above any umfax job id) and keeps it, mapped here in
memory to its faxes, once Send-Document submits them.  The printer holds no lock: the
caller serialises :meth:`FaxOutPrinter.handle`.
"""

from __future__ import annotations

import itertools
import logging
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.ipp.codec import Attribute, Group, IppError, Message, attr, group
from connectors.ipp.constants import Delimiter, JobState, Operation, Status, Tag
from connectors.ipp.description import DOCUMENT_FORMATS, PrinterSettings, printer_attributes, select
from umfax.printer.ports import FaxDestination, FaxOutPort, FaxStatus, PrintedDocument, RefusedNumber

logger = logging.getLogger(__name__)

#: Create-Job ids start here, far above the ids umfax gives its faxes.
OPEN_JOB_IDS = 1 << 30

_STATES = {
    "pending": (JobState.PENDING, "job-queued"),
    "processing": (JobState.PROCESSING, "job-transforming"),
    "completed": (JobState.COMPLETED, "job-completed-successfully"),
    "aborted": (JobState.ABORTED, "aborted-by-system"),
    "canceled": (JobState.CANCELED, "job-canceled-by-user"),
}


@dataclass(frozen=True, slots=True)
class Requester:
    """Who sent a request (authenticated by the HTTP side) and how they reached us."""

    user: str
    printer_uri: str  # the URI they used, e.g. ipp://127.0.0.1:8025/ipp/faxout
    now: datetime


@dataclass(slots=True)
class OpenJob:
    """A Create-Job job waiting for its document."""

    user: str
    name: str
    destinations: list[FaxDestination]
    created: datetime
    documents: list[PrintedDocument] = field(default_factory=list)
    faxes: list[int] = field(default_factory=list)  # once submitted
    canceled: bool = False


@dataclass(frozen=True, slots=True)
class PrinterLimits:
    max_open_jobs: int = 100  # Create-Job jobs waiting for documents, all users
    max_documents: int = 20  # per job
    max_destinations: int = 20  # per job
    remembered_jobs: int = 10_000  # IPP job ids -> faxes kept in memory


class FaxOutPrinter:
    def __init__(
        self, port: FaxOutPort, settings: PrinterSettings, limits: PrinterLimits = PrinterLimits()
    ) -> None:
        self.port, self.settings, self.limits = port, settings, limits
        # Started where a previous process's ids are unlikely to be (clients may still ask
        # about those): the start time in seconds, within 2**29 ids.
        self._ids = itertools.count(OPEN_JOB_IDS + int(settings.started.timestamp()) % (1 << 29))
        self.jobs: OrderedDict[int, OpenJob] = OrderedDict()  # Create-Job ids
        self.faxes_of: OrderedDict[int, list[int]] = OrderedDict()  # Print-Job ids with several faxes

    # -- the entry point -----------------------------------------------------------------

    def handle(self, request: Message, who: Requester) -> Message:
        """The response to ``request`` (never raises for a bad request: that is a status)."""
        try:
            self._check_operation_group(request)
            handler = _HANDLERS.get(request.code)
            if handler is None:
                raise IppError(
                    Status.OPERATION_NOT_SUPPORTED, f"operation 0x{request.code:04x} is not supported"
                )
            return handler(self, request, who)
        except IppError as exc:
            logger.info(
                "ipp request refused",
                extra={"operation": request.code, "status": exc.status.name, "reason": exc.message},
            )
            return response(request, exc.status, exc.message, extra=exc.groups)

    def _check_operation_group(self, request: Message) -> None:
        if request.request_id < 1:
            raise IppError(Status.BAD_REQUEST, "request-id must be 1 or more")
        if not request.groups or request.groups[0].tag != Delimiter.OPERATION:
            raise IppError(Status.BAD_REQUEST, "the operation attributes must come first")
        names = list(request.groups[0].attributes)
        if names[:2] != ["attributes-charset", "attributes-natural-language"]:
            raise IppError(
                Status.BAD_REQUEST,
                "attributes-charset and attributes-natural-language must be the first attributes",
            )
        charset = request.groups[0].attributes["attributes-charset"].first
        if not isinstance(charset, str) or charset.lower() not in ("utf-8", "us-ascii"):
            raise IppError(Status.CHARSET_NOT_SUPPORTED, f"charset {charset!r} is not supported")
        if "printer-uri" not in names and "job-uri" not in names:
            raise IppError(Status.BAD_REQUEST, "printer-uri is missing")

    # -- the printer -----------------------------------------------------------------------

    def get_printer_attributes(self, request: Message, who: Requester) -> Message:
        queued = len(self.port.jobs(who.user, finished=False, limit=500))
        attributes = printer_attributes(self.settings, who.printer_uri, who.now, queued)
        chosen = select(attributes, _requested(request))
        return response(request, Status.OK, extra=[group(Delimiter.PRINTER, chosen)])

    def identify_printer(self, request: Message, who: Requester) -> Message:
        return response(request, Status.OK)  # nothing to flash or beep

    # -- creating jobs -----------------------------------------------------------------------

    def _job_request(self, request: Message, who: Requester) -> tuple[list[FaxDestination], str, list[Group]]:
        """The checked destinations and job name of a new job; the unsupported group if any."""
        refusal = self.port.refusal(who.user)
        if refusal is not None:
            raise IppError(Status.NOT_AUTHORIZED, refusal)
        operation = request.groups[0]
        _check_format(operation)
        compression = operation.get("compression")
        if compression is not None and compression.first not in ("none", None):
            raise IppError(
                Status.COMPRESSION_NOT_SUPPORTED, f"compression {compression.first!r} is not supported"
            )
        destinations, ignored = _destinations(request)
        if len(destinations) > self.limits.max_destinations:
            raise IppError(
                Status.REQUEST_ENTITY_TOO_LARGE, f"at most {self.limits.max_destinations} fax numbers per job"
            )
        for destination in destinations:
            try:
                self.port.check(who.user, destination)
            except RefusedNumber as exc:
                refused = group(Delimiter.UNSUPPORTED, [attr("destination-uris", Tag.URI, destination.uri)])
                raise IppError(Status.NOT_POSSIBLE, exc.message, [refused]) from exc
        unsupported = [group(Delimiter.UNSUPPORTED, ignored)] if ignored else []
        name_attr = operation.get("job-name")
        name = name_attr.strings()[0] if name_attr is not None and name_attr.strings() else ""
        return destinations, name, unsupported

    def validate_job(self, request: Message, who: Requester) -> Message:
        _, _, unsupported = self._job_request(request, who)
        status = Status.OK_IGNORED_OR_SUBSTITUTED if unsupported else Status.OK
        return response(request, status, extra=unsupported)

    def print_job(self, request: Message, who: Requester) -> Message:
        destinations, name, unsupported = self._job_request(request, who)
        document = _document(request, name)
        faxes = self._submit(who.user, destinations, [document], name)
        job_id = faxes[0]
        if len(faxes) > 1:
            self._remember(job_id, faxes)
        return self._job_response(request, who, job_id, unsupported)

    def create_job(self, request: Message, who: Requester) -> Message:
        destinations, name, unsupported = self._job_request(request, who)
        if len(self.jobs) >= self.limits.max_open_jobs:
            self._forget_stale()
            if sum(1 for j in self.jobs.values() if not j.faxes) >= self.limits.max_open_jobs:
                raise IppError(Status.SERVICE_UNAVAILABLE, "too many jobs are waiting for documents")
        job_id = next(self._ids)
        self.jobs[job_id] = OpenJob(who.user, name, destinations, who.now)
        self._forget_stale()
        return self._job_response(request, who, job_id, unsupported)

    def send_document(self, request: Message, who: Requester) -> Message:
        job_id = _job_id(request)
        job = self._open_job(job_id, who)
        if job.faxes or job.canceled:
            raise IppError(
                Status.NOT_POSSIBLE, f"job {job_id} is already {'sent' if job.faxes else 'canceled'}"
            )
        operation = request.groups[0]
        last = operation.get("last-document")
        if last is None or not isinstance(last.first, bool):
            raise IppError(Status.BAD_REQUEST, "last-document (boolean) is missing")
        _check_format(operation)
        if request.data:
            if len(job.documents) >= self.limits.max_documents:
                raise IppError(
                    Status.REQUEST_ENTITY_TOO_LARGE, f"at most {self.limits.max_documents} documents per job"
                )
            job.documents.append(_document(request, job.name))
        if last.first:
            self._close(job_id, job)
        return self._job_response(request, who, job_id, [])

    def close_job(self, request: Message, who: Requester) -> Message:
        job_id = _job_id(request)
        job = self._open_job(job_id, who)
        if not job.faxes and not job.canceled:
            self._close(job_id, job)
        return self._job_response(request, who, job_id, [])

    def _close(self, job_id: int, job: OpenJob) -> None:
        if not job.documents:
            raise IppError(Status.BAD_REQUEST, f"job {job_id} has no document to fax")
        job.faxes = self._submit(job.user, job.destinations, job.documents, job.name)
        job.documents = []  # the store has them now

    def _submit(
        self, user: str, destinations: list[FaxDestination], documents: list[PrintedDocument], name: str
    ) -> list[int]:
        try:
            faxes = self.port.submit(user, destinations, documents, name)
        except RefusedNumber as exc:
            raise IppError(Status.NOT_POSSIBLE, exc.message) from exc
        logger.info("printed to fax", extra={"user": user, "faxes": faxes, "job_name": name})
        return faxes

    def _remember(self, job_id: int, faxes: list[int]) -> None:
        self.faxes_of[job_id] = faxes
        while len(self.faxes_of) > self.limits.remembered_jobs:
            self.faxes_of.popitem(last=False)

    def _forget_stale(self) -> None:
        """Keep at most ``remembered_jobs`` Create-Job ids (the oldest go first)."""
        while len(self.jobs) > self.limits.remembered_jobs:
            self.jobs.popitem(last=False)

    def _open_job(self, job_id: int, who: Requester) -> OpenJob:
        job = self.jobs.get(job_id)
        if job is None or job.user != who.user:
            raise IppError(Status.NOT_FOUND, f"there is no job {job_id}")
        return job

    # -- following jobs ----------------------------------------------------------------------

    def _status(
        self, job_id: int, who: Requester
    ) -> tuple[JobState, str, str, int, list[FaxStatus], OpenJob | None]:
        """state, reason keyword, message, pages sent, the faxes and the open job of ``job_id``."""
        job = self.jobs.get(job_id)
        if job is not None and job.user != who.user:
            job = None
        if job is not None and not job.faxes:
            if job.canceled:
                return JobState.CANCELED, "job-canceled-by-user", "canceled", 0, [], job
            return JobState.PENDING, "job-incoming", "waiting for the document", 0, [], job
        ids = job.faxes if job is not None else self.faxes_of.get(job_id, [job_id])
        faxes = [s for s in (self.port.status(who.user, i) for i in ids) if s is not None]
        if not faxes:
            raise IppError(Status.NOT_FOUND, f"there is no job {job_id}")
        states = {f.state for f in faxes}
        for candidate in ("processing", "pending", "aborted", "canceled", "completed"):
            if candidate in states and (candidate != "completed" or states == {"completed"}):
                break
        state, reason = _STATES[candidate]
        message = "; ".join(f.message for f in faxes if f.message)
        return state, reason, message, sum(f.pages_sent for f in faxes), faxes, job

    def _job_attributes(self, job_id: int, who: Requester) -> list[Attribute]:
        state, reason, message, pages_sent, faxes, job = self._status(job_id, who)
        first = faxes[0] if faxes else None
        created = job.created if job is not None else (first.created if first else None)
        name = job.name if job is not None else (first.name if first else "")
        out = [
            attr("job-id", Tag.INTEGER, job_id),
            attr("job-uri", Tag.URI, f"{who.printer_uri}/{job_id}"),
            attr("job-printer-uri", Tag.URI, who.printer_uri),
            attr("job-name", Tag.NAME, name or f"fax {job_id}"),
            attr(
                "job-originating-user-name",
                Tag.NAME,
                job.user if job is not None else first.user if first else "",
            ),
            attr("job-state", Tag.ENUM, int(state)),
            attr("job-state-reasons", Tag.KEYWORD, reason),
            attr("job-state-message", Tag.TEXT, message or reason.replace("-", " ")),
            attr("job-impressions-completed", Tag.INTEGER, pages_sent),
            attr("job-printer-up-time", Tag.INTEGER, self._up(who.now)),
            attr("time-at-creation", Tag.INTEGER, self._up(created or who.now)),
        ]
        pages = sum(f.pages for f in faxes)
        if pages:
            out.append(attr("job-impressions", Tag.INTEGER, pages))
        started = [f.started for f in faxes if f.started is not None]
        finished = [f.finished for f in faxes if f.finished is not None]
        out.append(attr("time-at-processing", Tag.INTEGER, self._up(min(started))) if started
                   else attr("time-at-processing", Tag.NO_VALUE))  # fmt: skip
        done = state in (JobState.COMPLETED, JobState.ABORTED, JobState.CANCELED) and finished
        out.append(attr("time-at-completed", Tag.INTEGER, self._up(max(finished))) if done
                   else attr("time-at-completed", Tag.NO_VALUE))  # fmt: skip
        return out

    def _up(self, when: datetime) -> int:
        return max(1, int((when - self.settings.started).total_seconds()))

    def _job_response(self, request: Message, who: Requester, job_id: int, extra: list[Group]) -> Message:
        attributes = self._job_attributes(job_id, who)
        brief = [a for a in attributes if a.name in ("job-id", "job-uri", "job-state", "job-state-reasons",
                                                     "job-state-message")]  # fmt: skip
        status = Status.OK_IGNORED_OR_SUBSTITUTED if extra else Status.OK
        return response(request, status, extra=[*extra, group(Delimiter.JOB, brief)])

    def get_job_attributes(self, request: Message, who: Requester) -> Message:
        attributes = self._job_attributes(_job_id(request), who)
        chosen = _select_job(attributes, _requested(request))
        return response(request, Status.OK, extra=[group(Delimiter.JOB, chosen)])

    def get_jobs(self, request: Message, who: Requester) -> Message:
        operation = request.groups[0]
        which = operation.get("which-jobs")
        which_value = which.first if which is not None else "not-completed"
        if which_value not in ("completed", "not-completed", "all"):
            raise IppError(
                Status.ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, f"which-jobs {which_value!r} is not supported"
            )
        limit_attr = operation.get("limit")
        limit = limit_attr.first if limit_attr is not None and isinstance(limit_attr.first, int) else 100
        limit = max(1, min(limit, 500))
        found: list[FaxStatus] = []
        if which_value in ("completed", "all"):
            found += self.port.jobs(who.user, finished=True, limit=limit)
        if which_value in ("not-completed", "all"):
            found += self.port.jobs(who.user, finished=False, limit=limit)
        found.sort(key=lambda f: f.fax_id, reverse=True)
        requested = _requested(request) or ["job-id", "job-uri"]
        groups = [group(Delimiter.JOB, _select_job(self._job_attributes(f.fax_id, who), requested))
                  for f in found[:limit]]  # fmt: skip
        return response(request, Status.OK, extra=groups)

    def cancel_job(self, request: Message, who: Requester) -> Message:
        job_id = _job_id(request)
        job = self.jobs.get(job_id)
        if job is not None and job.user == who.user and not job.faxes:
            if job.canceled:
                raise IppError(Status.NOT_POSSIBLE, f"job {job_id} is already canceled")
            job.canceled, job.documents = True, []
            return response(request, Status.OK)
        _, _, _, _, faxes, _ = self._status(job_id, who)
        refusals = [r for r in (self.port.cancel(who.user, f.fax_id) for f in faxes) if r]
        if refusals and len(refusals) == len(faxes):
            raise IppError(Status.NOT_POSSIBLE, "; ".join(refusals))
        return response(request, Status.OK)


_HANDLERS: dict[int, Callable[[FaxOutPrinter, Message, Requester], Message]] = {
    Operation.GET_PRINTER_ATTRIBUTES: FaxOutPrinter.get_printer_attributes,
    Operation.IDENTIFY_PRINTER: FaxOutPrinter.identify_printer,
    Operation.VALIDATE_JOB: FaxOutPrinter.validate_job,
    Operation.PRINT_JOB: FaxOutPrinter.print_job,
    Operation.CREATE_JOB: FaxOutPrinter.create_job,
    Operation.SEND_DOCUMENT: FaxOutPrinter.send_document,
    Operation.CLOSE_JOB: FaxOutPrinter.close_job,
    Operation.GET_JOB_ATTRIBUTES: FaxOutPrinter.get_job_attributes,
    Operation.GET_JOBS: FaxOutPrinter.get_jobs,
    Operation.CANCEL_JOB: FaxOutPrinter.cancel_job,
}


# -- reading requests -------------------------------------------------------------------------


def response(
    request: Message, status: Status, message: str = "", extra: list[Group] | None = None
) -> Message:
    """A response to ``request``: the operation group (charset, language, status-message) first."""
    operation = [
        attr("attributes-charset", Tag.CHARSET, "utf-8"),
        attr("attributes-natural-language", Tag.LANGUAGE, "en"),
    ]
    if message:
        operation.append(attr("status-message", Tag.TEXT, message[:255]))
    version = request.version if request.version[0] in (1, 2) else (1, 1)
    return Message(
        version, int(status), request.request_id, [group(Delimiter.OPERATION, operation), *(extra or [])]
    )


def _requested(request: Message) -> list[str]:
    requested = request.groups[0].get("requested-attributes")
    return requested.strings() if requested is not None else []


def _select_job(attributes: list[Attribute], requested: list[str]) -> list[Attribute]:
    if not requested or {"all", "job-description", "job-template", "job-status"} & set(requested):
        return attributes
    return [a for a in attributes if a.name in set(requested)]


def _job_id(request: Message) -> int:
    operation = request.groups[0]
    job_id = operation.get("job-id")
    if job_id is not None and isinstance(job_id.first, int) and not isinstance(job_id.first, bool):
        return job_id.first
    job_uri = operation.get("job-uri")
    if job_uri is not None and isinstance(job_uri.first, str):
        tail = job_uri.first.rstrip("/").rpartition("/")[2]
        if tail.isdigit():
            return int(tail)
    raise IppError(Status.BAD_REQUEST, "job-id is missing")


def _format(operation: Group) -> str:
    given = operation.get("document-format")
    value = given.first if given is not None else "application/octet-stream"
    return value.lower() if isinstance(value, str) else "application/octet-stream"


def _check_format(operation: Group) -> None:
    kind = _format(operation)
    if kind not in DOCUMENT_FORMATS:
        raise IppError(
            Status.DOCUMENT_FORMAT_NOT_SUPPORTED,
            f"{kind} cannot be faxed; print PDF, PWG raster, URF, JPEG or plain text",
            [group(Delimiter.UNSUPPORTED, [attr("document-format", Tag.MIME_TYPE, kind)])],
        )


def _document(request: Message, job_name: str) -> PrintedDocument:
    if not request.data:
        raise IppError(Status.BAD_REQUEST, "the request holds no document")
    operation = request.groups[0]
    kind = _format(operation)
    name_attr = operation.get("document-name")
    name = name_attr.strings()[0] if name_attr is not None and name_attr.strings() else job_name
    return PrintedDocument(request.data, "" if kind == "application/octet-stream" else kind, name)


def tel_number(uri: str) -> str:
    """The number of a tel: URI (RFC 3966): parameters dropped, percent-escapes read."""
    scheme, _, rest = uri.partition(":")
    if scheme.lower() != "tel" or not rest:
        raise ValueError(uri)
    number = urllib.parse.unquote(rest.split(";", 1)[0]).strip()
    if not number:
        raise ValueError(uri)
    return number


def _destinations(request: Message) -> tuple[list[FaxDestination], list[Attribute]]:
    """The tel: destinations of a job, and what was ignored (other schemes)."""
    job = request.group(Delimiter.JOB)
    given = job.get("destination-uris") if job is not None else None
    if given is None:
        raise IppError(
            Status.BAD_REQUEST,
            "no fax number: give it as destination-uris (a tel: URI), e.g. lp -o phone=NUMBER",
        )
    found: list[FaxDestination] = []
    ignored: list[str] = []
    for value in given.values:
        if not isinstance(value.data, dict) or "destination-uri" not in value.data:
            raise IppError(Status.BAD_REQUEST, "each destination-uris value needs a destination-uri")
        uri = value.data["destination-uri"].first
        if not isinstance(uri, str):
            raise IppError(Status.BAD_REQUEST, "destination-uri is not a URI")
        try:
            number = tel_number(uri)
        except ValueError:
            ignored.append(uri)
            continue
        pre = value.data.get("pre-dial-string")
        pre_dial = pre.strings()[0] if pre is not None and pre.strings() else ""
        found.append(FaxDestination(uri, number, pre_dial))
    if not found:
        raise IppError(
            Status.URI_SCHEME_NOT_SUPPORTED,
            f"this printer faxes to tel: numbers only, not {', '.join(ignored) or 'nothing'}",
        )
    unsupported = [attr("destination-uris", Tag.URI, *ignored)] if ignored else []
    return found, unsupported
