"""The called terminal of the sans-IO T.30 engine: phase B (CSI/DIS, DCS, TCF verdict),
non-ECM pages judged line by line (MCF/RTN), ECM blocks (PPS/PPR, CTC, RR, EOR).

See :mod:`modem.t30.engine` for how an engine is driven.
"""


from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass

from modem.api import (
    HangupCause,
    PageImage,
    ProgressKind,
    ReceivedPage,
    ReceiveOptions,
)
from modem.errors import HDLCError
from modem.hdlc import (
    FCF,
    Frame,
    bit_reverse,
    hdlc_decode,
    parse_frame,
)
from modem.t30 import t4
from modem.t30.decode import decode_page
from modem.t30.dis import (
    Capabilities,
    Params,
    decode_id,
    encode_id,
)
from modem.t30.engine import (
    MAX_TRIES,
    T1,
    T2,
    T4,
    Engine,
    Gen,
    GenR,
    HangupSignal,
)
from modem.t30.messages import (
    Action,
    DataReceived,
    Event,
    FrameError,
    FramesReceived,
    Hangup,
    LineLost,
    ReceiveFrames,
    ReceiveImage,
    ReceiveTCF,
    TimedOut,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TCFJudge:
    """Receiver's verdict on the training check: enough clean zeros?"""

    min_zero_seconds: float = 0.75
    max_error_ratio: float = 0.10

    def __call__(self, data: bytes, bit_rate: int) -> bool:
        if not data:
            return False
        longest = run = errors = 0
        for b in data:
            if b == 0:
                run += 1
                longest = max(longest, run)
            else:
                run = 0
                errors += 1
        return (longest >= bit_rate * self.min_zero_seconds / 8
                and errors <= len(data) * self.max_error_ratio)


@dataclass(frozen=True, slots=True)
class PageQuality:
    """What the receiver learnt about a non-ECM page."""

    lines: int  # scan lines decoded
    bad_lines: int  # lines that did not decode to the page width
    rtc_seen: bool  # the page ended properly (RTC), not by carrier loss


PageCheck = Callable[[PageImage, PageQuality], bool]


@dataclass(frozen=True, slots=True)
class BadLineCheck:
    """Default page verdict: good (MCF) when the page ended with RTC and at most
    ``max_bad_ratio`` of its lines failed to decode; otherwise RTN."""

    max_bad_ratio: float = 0.05

    def __call__(self, page: PageImage, q: PageQuality) -> bool:
        return (q.rtc_seen and q.lines > 0
                and q.bad_lines <= q.lines * self.max_bad_ratio)


default_page_check: PageCheck = BadLineCheck()


class T30Receiver(Engine):
    """The called terminal receiving documents."""

    is_caller = False

    def __init__(self, options: ReceiveOptions | None = None, *,
                 page_check: PageCheck = default_page_check,
                 tcf_judge: Callable[[bytes, int], bool] = TCFJudge()) -> None:
        super().__init__()
        self.options = options or ReceiveOptions()
        self.pages: list[ReceivedPage] = []  # drained by the owner
        self.page_check = page_check
        self.tcf_judge = tcf_judge
        self._page_no = 0  # pages received (confirmed or not)

    def _rows(self, data: bytes, p: Params) -> int:
        """Rows of an ECM page (its frames were checked: no line needs judging)."""
        count = self.options.count_rows
        if count is not None:
            try:
                return count(data, p.encoding, p.width)
            except ValueError as exc:
                log.info("t30 page rows: the fast decoder failed, decoding in Python",
                         extra={"error": str(exc)[:200]})
        return decode_page(data, p.encoding, p.width).lines

    def take_pages(self) -> list[ReceivedPage]:
        out, self.pages = self.pages, []
        return out

    def caps(self) -> Capabilities:
        o = self.options
        mods = {"v27"}
        if o.max_bit_rate >= 7200 and "v29" in o.modems:
            mods.add("v29")
            if o.max_bit_rate >= 12000 and "v17" in o.modems:
                mods.add("v17")
        return Capabilities(modems=frozenset(mods), fine=True, superfine=True,
                            mr="mr" in o.accept_encodings,
                            mmr="mmr" in o.accept_encodings and o.ecm, ecm=o.ecm,
                            min_scan_ms=0)

    def _phase_b(self, send_dis: bool) -> GenR:
        waited = 0.0
        heard = not send_dis  # after RTN/FTT we know the caller is there
        dis = (self._frame(FCF.CSI, encode_id(self.options.local_id), final=False),
               self._frame(FCF.DIS, self.caps().encode()))
        crp = False
        while True:
            if send_dis and not crp:
                yield from self._send(*dis)
            crp = False
            timeout = T4 if send_dis else T2
            ev = yield ReceiveFrames(timeout)
            if isinstance(ev, LineLost) and not heard and not self.pages_done:
                raise HangupSignal(HangupCause.NO_CARRIER,
                              f"the caller hung up before any fax signal: {ev.message}".rstrip(": "))
            self._lost(ev, "in phase B")
            if isinstance(ev, FrameError):
                yield from self._send(self._frame(FCF.CRP))
                crp = True
                continue
            if isinstance(ev, TimedOut):
                waited += timeout + (3.0 if send_dis else 0.0)
                if waited >= T1:
                    if self.pages_done:
                        cause = HangupCause.LINE_DROPPED
                    elif heard:
                        cause = HangupCause.PROTOCOL_ERROR
                    else:
                        cause = HangupCause.NO_CARRIER
                    raise HangupSignal(cause, "no command from the caller within T1")
                continue
            heard = True
            if not isinstance(ev, FramesReceived):
                continue
            tsi = self._find(ev, "TSI")
            if tsi is not None:
                self.remote_id = decode_id(tsi.fif)
            nss = self._find(ev, "NSS")
            if nss is not None:
                self.remote_nsf = nss.fif
            if self._find(ev, "DCN"):
                if self.pages_done:
                    raise HangupSignal(HangupCause.LINE_DROPPED, "far end disconnected in phase B")
                raise HangupSignal(HangupCause.REMOTE_REJECTED, "far end sent DCN in phase B")
            dcs = self._find(ev, "DCS")
            if dcs is None:
                continue
            p = Params.decode(dcs.fif)
            self.params = p
            if p.encoding not in self.options.accept_encodings or (p.ecm and not self.options.ecm):
                raise HangupSignal(HangupCause.PROTOCOL_ERROR,
                              f"caller chose what we did not offer ({p.encoding}, ecm={p.ecm})",
                              dcn=True)
            if len(ev.frames) == 1 or ev.frames[0].name != "TSI":
                self._note(ProgressKind.CONNECTED)
            tcf = yield ReceiveTCF(p.modulation(), p.bit_rate, T2)
            self._lost(tcf, "during TCF")
            if isinstance(tcf, DataReceived) and self.tcf_judge(tcf.data, p.bit_rate):
                yield from self._send(self._frame(FCF.CFR))
                log.info("t30 TCF good", extra={"bit_rate": p.bit_rate, "octets": len(tcf.data)})
                self._note(ProgressKind.NEGOTIATED, message=f"{p.bit_rate} bit/s {p.modem}")
                return p
            log.info("t30 TCF bad", extra={"bit_rate": p.bit_rate,
                                           "octets": len(tcf.data) if isinstance(tcf, DataReceived)
                                           else 0})
            if isinstance(tcf, DataReceived):
                yield from self._send(self._frame(FCF.FTT))
            send_dis = False

    def _deliver(self, data: bytes, lines: int, p: Params, good: bool) -> None:
        image = PageImage(data=data, width=p.width, length=lines, encoding=p.encoding,
                          x_res=204.0, y_res=p.y_res)
        self.pages.append(ReceivedPage(number=self._page_no + 1, image=image, good=good))
        if good:
            self._page_no += 1
            self.pages_done = self._page_no
            self._note(ProgressKind.PAGE_DONE, page=self._page_no)
        else:
            self._note(ProgressKind.PAGE_RETRY, page=self._page_no + 1, message="RTN sent")

    def _run(self) -> Gen:
        p = yield from self._phase_b(True)
        while True:
            if p.ecm:
                outcome = yield from self._receive_ecm(p)
            else:
                outcome = yield from self._receive_pages(p)
            kind, p = outcome
            if kind == "done":
                # wait for DCN (its absence is not an error: every page is in)
                yield ReceiveFrames(T4)
                yield Hangup(HangupCause.OK, f"{self.pages_done} page(s) received")
                return
            p = yield from self._phase_b(kind == "eom")

    def _wait_ppm(self) -> Generator[Action, Event, Frame | None]:
        for _ in range(MAX_TRIES):
            ev = yield ReceiveFrames(T2)
            self._lost(ev, "waiting for the post-page command")
            if isinstance(ev, FramesReceived) and ev.frames:
                return ev.frames[-1]
            if not isinstance(ev, FrameError):
                return None
            yield from self._send(self._frame(FCF.CRP))  # garbled command: ask again
        return None

    def _receive_pages(self, p: Params) -> Generator[Action, Event, tuple[str, Params]]:
        last_resp: bytes | None = None
        silent = 0
        while True:
            ev = yield ReceiveImage(p.modulation(short_train=True), p.bit_rate, T2)
            page: tuple[bytes, int, bool] | None = None
            if isinstance(ev, LineLost):
                raise HangupSignal(HangupCause.LINE_DROPPED,
                                   f"line lost during page {self._page_no + 1}: {ev.message}".rstrip(": "))
            if isinstance(ev, DataReceived):
                page = t4.parse_non_ecm(ev.data, p.encoding)
                self._note(ProgressKind.PAGE_STARTED, page=self._page_no + 1)
            frame = yield from self._wait_ppm()
            if frame is None:
                silent += 1
                if silent >= MAX_TRIES:
                    cause = (HangupCause.LINE_DROPPED if page is not None or self.pages_done
                             else HangupCause.PROTOCOL_ERROR)
                    raise HangupSignal(cause, f"nothing from the far end after page {self._page_no}")
                continue
            silent = 0
            name = frame.name
            if name in ("MPS", "EOP", "EOM", "PRI_MPS", "PRI_EOP", "PRI_EOM"):
                if page is None and last_resp is not None:
                    yield from self._send(last_resp)  # our response was lost: repeat it
                    if name.endswith("EOP"):
                        return "done", p
                    continue
                data, eols, rtc = page if page is not None else (b"", 0, False)
                decoded = decode_page(data, p.encoding, p.width)
                quality = PageQuality(decoded.lines, decoded.bad_lines, rtc)
                image = PageImage(data=data, width=p.width, length=decoded.lines,
                                  encoding=p.encoding, x_res=204.0, y_res=p.y_res)
                good = page is not None and self.page_check(image, quality)
                log.info("t30 page judged", extra={"page": self._page_no + 1, "good": good,
                                                   "lines": decoded.lines, "eols": eols,
                                                   "bad_lines": decoded.bad_lines, "rtc": rtc})
                self._deliver(data, decoded.lines, p, good)
                last_resp = self._frame(FCF.MCF if good else FCF.RTN)
                yield from self._send(last_resp)
                if not good:
                    p = yield from self._phase_b(False)
                    last_resp = None
                    continue
                if name.endswith("EOP"):
                    return "done", p
                if name.endswith("EOM"):
                    return "eom", p
            elif name == "DCS":
                # retrain requested without RTN, or our CFR was lost: handle TCF again
                p = Params.decode(frame.fif)
                self.params = p
                tcf = yield ReceiveTCF(p.modulation(), p.bit_rate, T2)
                if isinstance(tcf, DataReceived) and self.tcf_judge(tcf.data, p.bit_rate):
                    yield from self._send(self._frame(FCF.CFR))
                else:
                    yield from self._send(self._frame(FCF.FTT))
                    p = yield from self._phase_b(False)
            elif name == "DCN":
                raise HangupSignal(HangupCause.LINE_DROPPED,
                              f"far end disconnected after {self.pages_done} page(s)")
            elif name == "CRP" and last_resp is not None:
                yield from self._send(last_resp)

    def _receive_ecm(self, p: Params) -> Generator[Action, Event, tuple[str, Params]]:
        page_buf = bytearray()
        block: dict[int, bytes] = {}
        block_frames = 0  # frames in the block, as far as the PPS so far said
        acked: tuple[int, int] | None = None
        silent = 0
        while True:
            ev = yield ReceiveImage(p.modulation(short_train=True), p.bit_rate, T2, ecm=True)
            if isinstance(ev, LineLost):
                raise HangupSignal(HangupCause.LINE_DROPPED,
                                   f"line lost during page {self._page_no + 1}: {ev.message}".rstrip(": "))
            if isinstance(ev, DataReceived):
                for raw in hdlc_decode(ev.data):
                    if raw is None:
                        continue
                    try:
                        fr = parse_frame(raw)
                    except HDLCError:
                        continue
                    if fr.fcf == FCF.FCD and fr.fif:
                        block[fr.fif[0]] = fr.fif[1:]
            frame = yield from self._wait_ppm()
            if frame is None:
                silent += 1
                if silent >= MAX_TRIES:
                    raise HangupSignal(HangupCause.LINE_DROPPED,
                                  f"nothing from the far end during page {self._page_no + 1}")
                continue
            silent = 0
            if frame.name == "PPS" and len(frame.fif) >= 4:
                ppm = frame.fif[0] & 0xFE
                key = (frame.fif[1], frame.fif[2])
                # The count is the block's frames in the first PPS, but some senders
                # (spandsp) count only the frames of the retransmission in later ones.
                count = block_frames = max(block_frames, frame.fif[3] + 1)
                if key == acked and not block:
                    yield from self._send(self._frame(FCF.MCF))  # our MCF was lost
                    continue
                missing = [i for i in range(count) if i not in block]
                if missing:
                    bitmap = bytearray(32)
                    for i in missing:
                        bitmap[i // 8] |= 1 << (i % 8)
                    yield from self._send(self._frame(FCF.PPR, bytes(bitmap)))
                    continue
                page_buf += b"".join(block[i] for i in range(count))
                block = {}
                block_frames = 0
                acked = key
                if ppm == 0:
                    yield from self._send(self._frame(FCF.MCF))
                    continue
                self._note(ProgressKind.PAGE_STARTED, page=self._page_no + 1)
                data = bit_reverse(bytes(page_buf))
                self._deliver(data, self._rows(data, p), p, True)
                page_buf = bytearray()
                yield from self._send(self._frame(FCF.MCF))
                if ppm == FCF.EOP:
                    return "done", p
                if ppm == FCF.EOM:
                    return "eom", p
            elif frame.name == "CTC":
                p = p.with_rate(*_rate_of(frame.fif))
                self.params = p
                yield from self._send(self._frame(FCF.CTR))
            elif frame.name == "RR":
                yield from self._send(self._frame(FCF.MCF))
            elif frame.name == "EOR":
                block = {}
                block_frames = 0
                yield from self._send(self._frame(FCF.ERR))
            elif frame.name == "DCN":
                raise HangupSignal(HangupCause.LINE_DROPPED,
                              f"far end disconnected after {self.pages_done} page(s)")
            elif frame.name == "DCS":
                p = Params.decode(frame.fif)
                self.params = p
                tcf = yield ReceiveTCF(p.modulation(), p.bit_rate, T2)
                ok = isinstance(tcf, DataReceived) and self.tcf_judge(tcf.data, p.bit_rate)
                yield from self._send(self._frame(FCF.CFR if ok else FCF.FTT))


def _rate_of(fif: bytes) -> tuple[int, str]:
    p = Params.decode(fif)
    return p.bit_rate, p.modem



__all__ = [
    "BadLineCheck",
    "PageCheck",
    "PageQuality",
    "T30Receiver",
    "TCFJudge",
    "default_page_check",
]
