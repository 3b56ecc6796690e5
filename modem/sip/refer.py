"""Blind transfer of an established call: our REFER and the NOTIFYs it brings (RFC 3515).

:meth:`Transfers.refer` sends ``REFER`` inside the call's dialog with ``Refer-To: <target>``
and ``Referred-By`` (RFC 3892) naming us.  A 2xx (normally 202 Accepted) makes the far end
subscribed to tell us how its INVITE to the target went: it sends NOTIFY requests
(``Event: refer``, a ``message/sipfrag`` body such as ``SIP/2.0 100 Trying`` then
``SIP/2.0 200 OK``), each answered 200 here.  A final 2xx sipfrag is a transfer done; a
final failure sipfrag, a REFER refused (or never answered), or no final NOTIFY before the
deadline is a transfer failed.  Either way exactly one :class:`TransferEnded` follows
each :meth:`Transfers.refer`, with :class:`TransferAccepted` before it when the far end
took the REFER.

NOTIFYs are matched to the transfer by dialog and ``Event: refer`` (with ``id`` equal to
our REFER's CSeq, or no ``id``); any other in-dialog NOTIFY is answered 481 (no such
subscription).  A NOTIFY may overtake the 202 on UDP: it counts as the acceptance.  The
transfer outlives the call's own end (the far end may send BYE before its last NOTIFY,
RFC 5589 section 6), until the final NOTIFY or the deadline.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass

from modem.sip.calls import Calls, target_uri
from modem.sip.core import Outgoing
from modem.sip.dialog import Call, CallState
from modem.sip.errors import SipParseError, SipUsageError
from modem.sip.events import CallId, TransferAccepted, TransferEnded
from modem.sip.message import SipRequest, SipResponse
from modem.sip.transaction import Address
from modem.sip.uri import NameAddr, parse_params

log = logging.getLogger("modem.sip.ua")

NOTIFY_TIMEOUT = 32.0  # default wait, after the REFER, for the final NOTIFY
GONE = (408, 481)  # responses to an in-dialog request that end the dialog (RFC 3261 12.2.1.2)
_SIPFRAG = re.compile(r"^SIP/2\.0\s+([1-6]\d\d)(?:\s+(.*))?$")


class TransferState(enum.Enum):
    REFERRING = "REFER sent"
    SUBSCRIBED = "accepted, waiting for the final NOTIFY"
    DONE = "done"


class TransferInput(enum.Enum):
    RX_2XX = "2xx to the REFER"
    RX_FAILURE = "REFER refused or timed out"
    RX_PROGRESS = "NOTIFY with a provisional sipfrag"
    RX_FINAL = "NOTIFY with a final sipfrag, or subscription terminated"
    TIMEOUT = "no final NOTIFY in time"


_T = TransferState
_TI = TransferInput
#: (state, input) -> (next state, emit TransferAccepted, emit TransferEnded).
TRANSFER_TRANSITIONS: dict[tuple[TransferState, TransferInput], tuple[TransferState, bool, bool]] = {
    (_T.REFERRING, _TI.RX_2XX): (_T.SUBSCRIBED, True, False),
    (_T.REFERRING, _TI.RX_FAILURE): (_T.DONE, False, True),
    (_T.REFERRING, _TI.RX_PROGRESS): (_T.SUBSCRIBED, True, False),  # the NOTIFY overtook the 202
    (_T.REFERRING, _TI.RX_FINAL): (_T.DONE, True, True),
    (_T.REFERRING, _TI.TIMEOUT): (_T.DONE, False, True),
    (_T.SUBSCRIBED, _TI.RX_2XX): (_T.SUBSCRIBED, False, False),  # the 202 after a NOTIFY
    (_T.SUBSCRIBED, _TI.RX_PROGRESS): (_T.SUBSCRIBED, False, False),
    (_T.SUBSCRIBED, _TI.RX_FINAL): (_T.DONE, False, True),
    (_T.SUBSCRIBED, _TI.TIMEOUT): (_T.DONE, False, True),
}


@dataclass
class Transfer:
    call_id: CallId
    target: str
    seq: int  # our REFER's CSeq: the NOTIFYs' Event id
    deadline: float
    state: TransferState = TransferState.REFERRING

    def move(self, inp: TransferInput, calls: Calls, code: int, reason: str) -> bool:
        """Take ``inp`` (False if the table has no such move) and emit what the table says."""
        step = TRANSFER_TRANSITIONS.get((self.state, inp))
        if step is None:
            return False
        self.state, accepted, ended = step
        if accepted:
            calls.core.events.append(TransferAccepted(self.call_id))
        if ended:
            calls.core.events.append(TransferEnded(self.call_id, 200 <= code < 300, code, reason))
            log.info("sip transfer ended", extra={"call_id": self.call_id, "target": self.target,
                                                   "code": code, "reason": reason})
        return True


def parse_sipfrag(body: bytes) -> tuple[int, str] | None:
    """The status code and reason of a ``message/sipfrag`` body's status line, or None."""
    first = body.decode("utf-8", "replace").lstrip("\r\n").split("\n", 1)[0].strip()
    m = _SIPFRAG.match(first)
    if m is None:
        return None
    return int(m.group(1)), (m.group(2) or "").strip()


class Transfers:
    """The transfers under way, one at most per call."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.transfers: dict[CallId, Transfer] = {}

    # our REFER --------------------------------------------------------------------------------
    def refer(self, call_id: CallId, target: str, now: float, timeout: float = NOTIFY_TIMEOUT) -> None:
        calls = self.calls
        call = calls.get(call_id)
        if call.state is not CallState.CONFIRMED:
            raise SipUsageError(f"call {call_id} is not established ({call.state.value})")
        if call_id in self.transfers:
            raise SipUsageError(f"call {call_id} has a transfer under way")
        core = calls.core
        uri = target_uri(target, core.config.domain)
        request = calls.dialog_request(call, "REFER")
        request.headers.add("Refer-To", str(NameAddr(uri)))
        request.headers.add("Referred-By", str(NameAddr(call.local.uri)))
        request.headers.add("Contact", str(core.contact()))
        core.common_headers(request.headers)
        transfer = Transfer(call_id, str(uri), request.cseq().seq, now + timeout)
        self.transfers[call_id] = transfer

        def done(response: SipResponse | None, at: float) -> None:
            self._refer_final(call, transfer, response, at)

        def resent(retry: SipRequest) -> None:  # a digest retry has a new CSeq: the NOTIFY id
            transfer.seq = retry.cseq().seq

        core.send_request(Outgoing(request, calls.dest(call), done, call.next_seq, on_resend=resent), now)
        log.info("sip transfer started", extra={"call_id": call_id, "target": transfer.target})

    def _refer_final(self, call: Call, transfer: Transfer, response: SipResponse | None, now: float) -> None:
        if response is not None and 200 <= response.status < 300:
            transfer.move(TransferInput.RX_2XX, self.calls, response.status, response.reason)
            return
        code, reason = (408, "no answer to the REFER") if response is None \
            else (response.status, f"REFER refused ({response.reason or 'no reason'})")
        self._finish(transfer, TransferInput.RX_FAILURE, code, reason)
        if code in GONE and call.state is CallState.CONFIRMED:
            self.calls.end_dialog(call, "timeout" if response is None else "dialog gone", now)

    def _finish(self, transfer: Transfer, inp: TransferInput, code: int, reason: str) -> None:
        if transfer.move(inp, self.calls, code, reason) and transfer.state is TransferState.DONE \
                and self.transfers.get(transfer.call_id) is transfer:
            del self.transfers[transfer.call_id]

    # their NOTIFY -----------------------------------------------------------------------------
    def on_notify(self, call: Call, request: SipRequest, source: Address, now: float) -> None:
        """An in-dialog NOTIFY: 200 for our transfer's subscription, 481 for any other."""
        core = self.calls.core
        tx = core.new_server(request, source, now)
        seq = request.cseq().seq
        if call.remote_seq is not None and seq <= call.remote_seq:
            core.respond(tx, 500, now, reason="CSeq Out of Order")
            return
        call.remote_seq = seq
        transfer = self.transfers.get(call.call_id)
        if transfer is None or not _is_refer_event(request.headers.get("Event"), transfer.seq):
            core.respond(tx, 481, now, reason="Subscription Does Not Exist")
            return
        status = parse_sipfrag(request.body)
        state = (request.headers.get("Subscription-State") or "").split(";", 1)
        terminated = state[0].strip().lower() == "terminated"
        if status is None and not terminated:
            core.respond(tx, 400, now, reason="Bad Request (no sipfrag status line)")
            return
        core.respond(tx, 200, now)
        if status is not None and status[0] >= 200:
            self._finish(transfer, TransferInput.RX_FINAL, *status)
        elif terminated:  # the subscription ended without a final status of the target's call
            why = _param(state[1], "reason") if len(state) > 1 else ""
            last = f", last {status[0]} {status[1]}".rstrip() if status else ""
            self._finish(transfer, TransferInput.RX_FINAL, 487,
                         f"subscription terminated before a final status ({why or 'no reason'}{last})")
        else:
            assert status is not None
            transfer.move(TransferInput.RX_PROGRESS, self.calls, *status)

    # timers -----------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        return min((t.deadline for t in self.transfers.values()), default=None)

    def on_timer(self, now: float) -> None:
        for transfer in list(self.transfers.values()):
            if now >= transfer.deadline:
                self._finish(transfer, TransferInput.TIMEOUT, 408, "no final NOTIFY for the transfer")


def _param(params: str, name: str) -> str:
    try:
        return parse_params(params).get(name) or ""
    except SipParseError:
        return ""


def _is_refer_event(value: str | None, seq: int) -> bool:
    """``Event: refer`` with our REFER's CSeq as ``id``, or no ``id`` (RFC 3515 2.4.6)."""
    if value is None:
        return False
    package, _, params = value.partition(";")
    if package.strip().lower() != "refer":
        return False
    try:
        event_id = parse_params(params).get("id")
    except SipParseError:
        return False
    return event_id is None or event_id.strip() == str(seq)
