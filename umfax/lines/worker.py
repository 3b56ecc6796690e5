"""One fax line: claims jobs and dials them, answers calls and stores what arrives."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from modem.api import (
    AbortCall,
    CallResult,
    FaxLineDriver,
    HangupCause,
    IncomingCall,
    PageImage,
    Progress,
    ProgressKind,
    ReceivedPage,
    ReceiveOptions,
    SendOptions,
)
from umfax.config import Config, LineConfig
from umfax.conversion import page_from_t4
from umfax.conversion.codec import count_rows
from umfax.errors import InvalidNumber, InvalidTransition, UmfaxError, describe_error, shorten
from umfax.lifecycle import FailureCause
from umfax.lines.pages import page_image, recode_image
from umfax.lines.voice import store_voice_call, voice_options
from umfax.numbers import DialPlan, display
from umfax.routing import CallFacts, InboundRouter, Route
from umfax.states import LineState
from umfax.store import CallOutcome, Claim, PageIn, Store
from umfax.store.console_routing import ConsoleRouting

logger = logging.getLogger(__name__)

#: Longest silence between two rings of one call (cadences are 4 to 6 s).
RING_GAP = 10.0

RESOLUTION_NAMES = {98: "standard", 196: "fine", 391: "superfine", 392: "superfine"}

#: Causes that say the line (not the far end) is at fault.
LINE_FAULTS = {HangupCause.MODEM_ERROR, HangupCause.NO_DIALTONE}

DriverFactory = Callable[[LineConfig], FaxLineDriver]


class ProgressWriter:
    """Records a call's progress in the store on its own thread, in order.

    The driver calls back in the middle of T.30 exchanges (a page confirmed, the next one
    starting) where every millisecond is line time; store writes must not hold it up.
    ``record`` runs on the writer's thread and returns why the call must end (a job was
    cancelled) or ""; :attr:`abort` then says so to the next callback.
    """

    def __init__(self, name: str, record: Callable[[Progress], str]) -> None:
        self._record = record
        self._queue: queue.SimpleQueue[Progress | None] = queue.SimpleQueue()
        self.abort = threading.Event()
        self.reason = ""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, event: Progress) -> None:
        self._queue.put(event)

    def close(self, timeout: float = 30.0) -> None:
        """Wait until everything put so far is recorded."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                reason = self._record(event)
                if reason:
                    self.reason = reason
                    self.abort.set()
            except Exception:
                logger.exception("cannot record progress", extra={"kind": str(event.kind)})


def station_id_for(number: str) -> str:
    """A T.30 station ID (digits, spaces, '+'; at most 20) from an E.164 number."""
    text = display(number) if number else ""
    return "".join(ch for ch in text.replace("-", " ") if ch.isdigit() or ch in "+ ")[:20]


def resolution_name(y_res: float) -> str:
    return RESOLUTION_NAMES.get(round(y_res), f"{y_res:g}lpi")


class LineWorker(threading.Thread):
    def __init__(
        self,
        line: LineConfig,
        config: Config,
        store: Store,
        open_driver: DriverFactory,
        worker_prefix: str,
        stop: threading.Event,
        on_inbound: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name=f"line-{line.name}", daemon=True)
        self.line, self.config, self.store = line, config, store
        self.open_driver = open_driver
        self.worker_id = f"{worker_prefix}{line.name}"
        self.stop = stop
        self.driver: FaxLineDriver | None = None
        self.failures = 0
        self.down_since: float | None = None
        self.next_probe = 0.0
        self.dial_plan = DialPlan(config.dial_rules, config.fax.default_country)
        self.station_id = line.station_id or config.fax.station_id or station_id_for(line.number)
        # The console's routes and junk entries first, read from the store as they change.
        self.router = InboundRouter(config, ConsoleRouting(store, [user.name for user in config.users]))
        self.on_inbound = on_inbound  # told when a received fax was routed (wakes the dispatcher)
        self.registration = ""  # a SIP channel's, as of the last probe
        trunk = config.trunk_of(line)
        self.listens_for_voice = trunk is not None and trunk.listen_for_voice  # fax or voice per call
        self._ignoring_until = 0.0  # a rejected call's further rings are ignored until then

    # -- state reporting ----------------------------------------------------------

    def _state(self, state: LineState, detail: str = "", job_id: int | None = None, log: bool = True) -> None:
        try:
            self.store.set_line_state(
                self.line.name,
                node=self.config.server.node_name,
                port=self.line.port,
                number=self.line.number,
                state=state,
                detail=detail,
                job_id=job_id,
                consecutive_failures=self.failures,
                registration=self.registration,
                log=log,
            )
        except UmfaxError:
            logger.exception("cannot record line state", extra={"line": self.line.name})

    # -- main loop ------------------------------------------------------------------

    def run(self) -> None:
        self._state(LineState.STARTING)
        while not self.stop.is_set():
            try:
                self._cycle()
            except Exception:
                logger.exception("line worker error", extra={"line": self.line.name})
                self._close_driver()
                self._mark_failure("internal error; reopening the modem")
                self.stop.wait(5)
        self._close_driver()
        self._state(LineState.STOPPED)

    def _cycle(self) -> None:
        if self.down_since is not None or self.driver is None:
            if time.monotonic() < self.next_probe:
                self.stop.wait(min(1.0, self.next_probe - time.monotonic()))
                return
            if not self._bring_up():
                return
        assert self.driver is not None
        if time.monotonic() >= self.next_probe:
            self._probe()
            return
        if self.line.send:
            claim = self.store.claim_send(
                self.worker_id, self.line.name, self.config.queue.lease, not_to=self.line.number or None
            )
            if claim is not None:
                self._send(claim)
                return
        if self.line.receive:
            call = self.driver.wait_for_call(self.config.queue.poll_interval)
            if call is not None and time.monotonic() < self._ignoring_until:
                self._ignoring_until = time.monotonic() + RING_GAP  # the rejected call still rings
                return
            if call is not None:
                call = self._await_rings(call)
            if call is not None and not self._rejected(call):
                self._receive(call)
        else:
            self.stop.wait(self.config.queue.poll_interval)

    def _bring_up(self) -> bool:
        try:
            if self.driver is None:
                self.driver = self.open_driver(self.line)
        except (UmfaxError, OSError) as exc:
            self._mark_failure(f"cannot open {self.line.port}: {describe_error(exc)}", force_down=True)
            return False
        return self._probe()

    def _probe(self) -> bool:
        assert self.driver is not None
        status = self.driver.probe()
        self.next_probe = time.monotonic() + self.line.probe_interval
        self.registration = status.registration
        if status.ok:
            if self.down_since is not None:
                logger.info("line back in service", extra={"line": self.line.name})
            self.down_since = None
            self.failures = 0
            self._state(LineState.IDLE, status.detail)
            return True
        self._mark_failure(f"line check failed: {status.detail}", force_down=True)
        return False

    def _mark_failure(self, detail: str, force_down: bool = False) -> None:
        self.failures += 1
        if force_down or self.failures >= self.line.max_consecutive_failures:
            if self.down_since is None:
                self.down_since = time.monotonic()
                logger.warning("line out of service", extra={"line": self.line.name, "detail": detail})
            backoff = min(300.0, 5.0 * 2 ** min(self.failures, 6))
            self.next_probe = time.monotonic() + backoff
            self._state(LineState.DOWN, detail)

    def _close_driver(self) -> None:
        if self.down_since is None:
            self.next_probe = min(self.next_probe, time.monotonic() + 1.0)  # reopen soon
        if self.driver is not None:
            try:
                self.driver.close()
            except Exception:
                logger.exception("closing the modem failed", extra={"line": self.line.name})
            self.driver = None

    # -- sending ----------------------------------------------------------------------

    def _send(self, first: Claim) -> None:
        """Dial ``first``'s number and send it, with any other jobs queued for that number."""
        assert self.driver is not None
        try:
            dial = self.dial_plan.dial_string(first.job.number, e164=self.line.dial_format == "e164")
        except InvalidNumber as exc:
            self._finish(first, CallOutcome(cause=FailureCause.BLOCKED_NUMBER, message=describe_error(exc)))
            return
        batch = [first]
        while len(batch) < self.line.batch_jobs:
            more = self.store.claim_send(
                self.worker_id, self.line.name, self.config.queue.lease, number=first.job.number, dialled=dial
            )
            if more is None:
                break
            batch.append(more)
        ids = ", ".join(str(c.job.id) for c in batch)
        self._state(LineState.SENDING, f"job {ids} to {first.job.number}", first.job.id, log=False)
        pages: list[PageImage] = []
        offsets: list[int] = []  # index in `pages` of each job's first page
        for claim in batch:
            offsets.append(len(pages))
            pages.extend(page_image(p) for p in claim.pages)

        def owner(page: int) -> tuple[Claim, int]:
            """The job a 1-based page of the call belongs to, and its page number in that job."""
            index = max(i for i, offset in enumerate(offsets) if offset < page)
            claim = batch[index]
            return claim, claim.job.pages_done + page - offsets[index]

        writer = ProgressWriter(
            f"line-{self.line.name}-progress", lambda event: self._progress(batch, owner, event)
        )

        options = SendOptions(
            local_id=self.station_id,
            ecm=self.line.ecm,
            max_bit_rate=self.line.max_bit_rate,
            recode=recode_image,
        )
        logger.info("dialling", extra={"line": self.line.name, "jobs": ids, "pages": len(pages)})
        confirmed = 0

        def tracking(event: Progress) -> None:
            nonlocal confirmed
            if event.kind is ProgressKind.PAGE_DONE:
                confirmed = max(confirmed, event.page)
            writer.put(event)
            if writer.abort.is_set():
                raise AbortCall(writer.reason)

        try:
            result = self.driver.send(dial, pages, options, tracking)
        except AbortCall as exc:  # the driver let our abort through: hang up by closing the port
            self._close_driver()
            error = describe_error(exc)
            result = CallResult(cause=HangupCause.CANCELLED, message=error, pages_done=confirmed)
        except Exception as exc:
            logger.exception("the driver failed during a call", extra={"line": self.line.name})
            self._close_driver()
            result = CallResult(
                cause=HangupCause.MODEM_ERROR,
                message=f"driver error: {describe_error(exc)}",
                pages_done=confirmed,
            )
        finally:
            writer.close()
        cause = self._cause(result)
        for index, claim in enumerate(batch):
            own = len(claim.pages)
            sent = min(own, max(0, result.pages_done - offsets[index]))
            # A call that never reached a fax machine (busy, no answer...) counts for every job
            # in it; once connected, jobs the call did not get to go back to the queue unharmed.
            reached = (
                index == 0
                or result.connected_at is None
                or result.pages_done > offsets[index]
                or (cause is None and result.pages_done >= offsets[index])
            )
            if not reached:
                self.store.release(claim, f"call ended before job {claim.job.id} was reached ({cause})")
                continue
            self._finish(
                claim,
                CallOutcome(
                    cause=None if sent == own else (cause or FailureCause.PROTOCOL_ERROR),
                    message=shorten(result.message),
                    remote_id=result.remote_id,
                    bit_rate=result.bit_rate,
                    encoding=result.encoding or "",
                    ecm=result.ecm,
                    resolution=resolution_name(result.y_res) if result.y_res else "",
                    transport=result.transport,
                    pages_sent=sent,
                    connected_at=result.connected_at,
                    ended_at=result.ended_at or datetime.now(UTC),
                ),
            )
        if result.cause in LINE_FAULTS:
            self._mark_failure(f"{result.cause}: {shorten(result.message)}")
        else:
            self.failures = 0
        if self.down_since is None and self.driver is not None:
            self._state(LineState.IDLE, log=False)

    def _cause(self, result: CallResult) -> FailureCause | None:
        if result.ok:
            return None
        if self.stop.is_set() and result.cause in (HangupCause.CANCELLED, HangupCause.MODEM_ERROR):
            return FailureCause.INTERRUPTED
        return FailureCause(result.cause.value)

    def _finish(self, claim: Claim, outcome: CallOutcome) -> None:
        try:
            job = self.store.finish_send(claim, outcome)
        except InvalidTransition:
            logger.error("job was taken from this line during the call", extra={"job": claim.job.id})
            return
        logger.info(
            "call ended",
            extra={
                "line": self.line.name,
                "job": job.id,
                "state": job.state,
                "result": outcome.cause or "ok",
                "pages": outcome.pages_sent,
            },
        )

    def _progress(
        self, batch: list[Claim], owner: Callable[[int], tuple[Claim, int]], event: Progress
    ) -> str:
        """Record ``event`` (on the progress writer's thread); not "": a job was cancelled."""
        if event.kind in (ProgressKind.CONNECTED, ProgressKind.NEGOTIATED):
            for claim in batch:
                if event.kind is ProgressKind.CONNECTED:
                    self.store.record_progress(
                        claim,
                        status=f"connected to {event.remote_id or 'fax machine'}",
                        kind="connected",
                        remote_id=event.remote_id,
                    )
                else:
                    self.store.record_progress(
                        claim,
                        status=f"sending at {event.bit_rate} bit/s",
                        kind="negotiated",
                        bit_rate=event.bit_rate,
                        encoding=event.encoding or "",
                        ecm=event.ecm,
                    )
            return ""
        if event.page < 1:
            return ""
        claim, page = owner(event.page)
        total = claim.job.page_count
        if event.kind is ProgressKind.PAGE_STARTED:
            if self.store.is_cancel_requested(claim.job.id):
                return f"job {claim.job.id} was cancelled"
            self.store.record_progress(
                claim, status=f"sending page {page} of {total}", kind="page_started", page=page
            )
        elif event.kind is ProgressKind.PAGE_DONE:
            self.store.record_progress(
                claim, status=f"page {page} of {total} sent", pages_done=page, kind="page_sent", page=page
            )
        elif event.kind is ProgressKind.PAGE_RETRY:
            self.store.record_progress(claim, status=f"resending page {page}", kind="page_retry", page=page)
        return ""

    # -- receiving -----------------------------------------------------------------------

    def _await_rings(self, call: IncomingCall) -> IncomingCall | None:
        """Let the line ring ``answer_after_rings`` times; None if the caller hangs up first."""
        assert self.driver is not None
        rings = call.rings
        while rings < self.line.answer_after_rings:
            more = self.driver.wait_for_call(RING_GAP)
            if more is None:
                self.store.log_event(
                    "missed_call",
                    f"call from {call.caller_number or 'unknown'} stopped after {rings} ring(s)",
                    line=self.line.name,
                    caller=call.caller_number,
                )
                return None
            rings += more.rings
            # Caller ID arrives between the first and second ring: keep what comes later.
            call = replace(
                call,
                caller_number=call.caller_number or more.caller_number,
                caller_name=call.caller_name or more.caller_name,
                called_number=call.called_number or more.called_number,
            )
        return replace(call, rings=rings)

    def _rejected(self, call: IncomingCall) -> bool:
        """Junk by caller ID (routing.junk, action "reject"): leave the call unanswered."""
        why = self.router.reject_before_answer(
            CallFacts(self.line.name, call.called_number or self.line.number, call.caller_number)
        )
        if why is None:
            return False
        self._ignoring_until = time.monotonic() + RING_GAP
        assert self.driver is not None
        self.driver.decline(call, why)
        self.store.log_event(
            "junk_call_rejected",
            f"call from {call.caller_number} not answered: {why}",
            line=self.line.name,
            caller=call.caller_number,
            reason=why,
        )
        logger.info("junk call not answered", extra={"line": self.line.name, "caller": call.caller_number})
        return True

    def _receive(self, call: IncomingCall) -> None:
        assert self.driver is not None
        fax = self.store.start_inbound(
            self.line.name,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            called_number=call.called_number or self.line.number,
        )
        self._state(LineState.RECEIVING, f"call from {call.caller_number or 'unknown'}", log=False)

        def on_page(page: ReceivedPage) -> None:
            image = page.image
            stored = page_from_t4(
                image.data, image.width, image.length, image.encoding, image.x_res, image.y_res
            )
            self.store.add_inbound_page(
                fax.id,
                page.number,
                PageIn(
                    data=stored.data,
                    width=stored.width,
                    length=stored.length,
                    x_res=stored.x_res,
                    y_res=stored.y_res,
                    encoding=stored.encoding,
                ),
                good=page.good,
            )

        called = call.called_number or self.line.number
        options = ReceiveOptions(
            local_id=self.station_id,
            ecm=self.line.ecm,
            max_bit_rate=self.line.max_bit_rate,
            adaptive_answer=self.line.adaptive_answer,
            count_rows=count_rows,
            voice=(
                voice_options(
                    self.router.voice_rule(CallFacts(self.line.name, called, call.caller_number)),
                    self.config.voice,
                )
                if self.listens_for_voice
                else None
            ),
        )
        result = self.driver.receive(call, options, on_page, lambda _event: None)
        route = self.router.route(CallFacts(self.line.name, called, call.caller_number, result.remote_id))
        if result.cause is HangupCause.VOICE:
            self._voice_call(fax.id, result, route)
            return
        self.store.finish_inbound(
            fax.id,
            result="ok" if result.ok else result.cause.value,
            message=shorten(result.message),
            remote_id=result.remote_id,
            bit_rate=result.bit_rate,
            encoding=result.encoding or "",
            ecm=result.ecm,
            transport=result.transport,
            deliver_to=[user.name for user in route.users],
            quarantine=route.why if route.quarantined else "",
        )
        if route.users and self.on_inbound is not None:
            self.on_inbound()
        logger.info(
            "fax received" if result.ok else "reception ended early",
            extra={
                "line": self.line.name,
                "inbound": fax.id,
                "pages": result.pages_done,
                "result": result.cause.value,
                "route": route.why,
            },
        )
        if self.down_since is None:
            self._state(LineState.IDLE, log=False)

    def _voice_call(self, inbound_id: int, result: CallResult, route: Route) -> None:
        """Store what a voice caller left (or that they were rejected or forwarded)."""
        record, delivered = store_voice_call(self.store, inbound_id, result, route, self.config.voice)
        if delivered and self.on_inbound is not None:
            self.on_inbound()
        logger.info(
            "voice call ended",
            extra={
                "line": self.line.name,
                "inbound": inbound_id,
                "state": record.state,
                "result": record.result,
                "route": route.why,
            },
        )
        if self.down_since is None:
            self._state(LineState.IDLE, log=False)
