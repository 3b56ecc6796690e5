"""Sans-IO T.30 engine (ITU-T T.30 phases B-E, T.4 Annex A ECM).

An engine is driven by its owner: :meth:`Engine.start` returns the first action; the
owner performs it and passes what happened to :meth:`Engine.step`, which returns the
next action, until a :class:`~modem.t30.messages.Hangup` comes out.  The engine never
touches a modem, a clock or a thread.  Progress notes and received pages pile up in
:attr:`Engine.progress` / :attr:`T30Receiver.pages` for the owner to drain.

Phase A (dialling, answering, CNG/CED) is the driver's job: the caller engine starts
by waiting for DIS, the called engine starts by sending CSI/DIS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass

from modem.api import (
    Encoding,
    HangupCause,
    PageImage,
    Progress,
    ProgressKind,
    ReceivedPage,
    ReceiveOptions,
    SendOptions,
)
from modem.errors import HDLCError, T30Error
from modem.hdlc import (
    FCF,
    X_BIT,
    Frame,
    bit_reverse,
    build_frame,
    hdlc_decode,
    hdlc_encode,
    parse_frame,
)
from modem.t30 import t4
from modem.t30.decode import decode_page
from modem.t30.dis import (
    Y_RES_FINE,
    Y_RES_STANDARD,
    Y_RES_SUPERFINE,
    Capabilities,
    Params,
    decode_id,
    encode_id,
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
    SendFrames,
    SendImage,
    SendTCF,
    Silence,
    TimedOut,
)

log = logging.getLogger(__name__)

# T.30 timers (seconds)
T1 = 35.0  # wait for the other terminal to be identified
T2 = 6.0  # wait for a command (or page carrier)
T4 = 3.0  # wait for a response
T5 = 60.0  # ECM receiver-not-ready
MAX_TRIES = 3  # command repetitions on no response
MAX_PAGE_RETRIES = 3  # RTN per page before giving up
TURNAROUND_MS = 75

ECM_SYNC_MS = 200  # T.4 Annex A synchronisation flags before an ECM block (200 +- 100 ms)


def ecm_preamble_flags(bit_rate: int) -> int:
    """Flags (one octet each) lasting ``ECM_SYNC_MS`` at ``bit_rate``."""
    return max(1, bit_rate * ECM_SYNC_MS // 8000)


Gen = Generator[Action, Event, None]
GenR = Generator[Action, Event, "Params"]


class _Hangup(Exception):
    def __init__(self, cause: HangupCause, message: str, *, dcn: bool = False) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message
        self.dcn = dcn


def y_res_class(y_res: float) -> float:
    if y_res >= 300:
        return Y_RES_SUPERFINE
    if y_res >= 150:
        return Y_RES_FINE
    return Y_RES_STANDARD


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


class Engine:
    """Common driving machinery (generator based)."""

    is_caller: bool = False

    def __init__(self) -> None:
        self.progress: list[Progress] = []
        self.remote_id = ""
        self.remote_nsf = b""  # NSF (or NSS) FIF from the far end, passed through as is
        self.params: Params | None = None
        self.pages_done = 0
        self.result: Hangup | None = None
        self._gen: Gen | None = None
        self._x = X_BIT if self.is_caller else 0

    # --- driving --------------------------------------------------------------------------
    def start(self) -> Action:
        if self._gen is not None:
            raise T30Error("engine already started")
        self._gen = self._main()
        return self._advance(None)

    def step(self, event: Event) -> Action:
        if self._gen is None:
            raise T30Error("engine not started")
        if self.result is not None:
            raise T30Error("engine finished")
        return self._advance(event)

    @property
    def finished(self) -> bool:
        return self.result is not None

    def take_progress(self) -> list[Progress]:
        out, self.progress = self.progress, []
        return out

    def _advance(self, event: Event | None) -> Action:
        assert self._gen is not None
        try:
            action = next(self._gen) if event is None else self._gen.send(event)
        except StopIteration as exc:  # pragma: no cover - _main always ends in Hangup
            raise T30Error("engine ended without hangup") from exc
        if isinstance(action, Hangup):
            self.result = action
            self._note(ProgressKind.HANGUP, message=f"{action.cause}: {action.message}")
            log.info("t30 hangup", extra={"cause": str(action.cause), "detail": action.message,
                                          "pages": self.pages_done})
        return action

    def _main(self) -> Gen:
        try:
            yield from self._run()
        except _Hangup as h:
            if h.dcn:
                yield SendFrames((self._frame(FCF.DCN),))
            yield Hangup(h.cause, h.message)

    def _run(self) -> Gen:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    # --- helpers ----------------------------------------------------------------------------
    def _frame(self, fcf: int, fif: bytes = b"", final: bool = True) -> bytes:
        return build_frame(fcf, fif, final=final, x=bool(self._x))

    def _note(self, kind: ProgressKind, **kw: object) -> None:
        p = self.params
        base: dict[str, object] = {"remote_id": self.remote_id}
        if p is not None:
            base.update(bit_rate=p.bit_rate, encoding=p.encoding, ecm=p.ecm)
        base.update(kw)
        self.progress.append(Progress(kind, **base))  # type: ignore[arg-type]

    @staticmethod
    def _last(ev: Event) -> Frame | None:
        if isinstance(ev, FramesReceived) and ev.frames:
            return ev.frames[-1]
        return None

    def _find(self, ev: Event, *names: str) -> Frame | None:
        if isinstance(ev, FramesReceived):
            for f in ev.frames:
                if f.name in names:
                    return f
        return None

    @staticmethod
    def _lost(ev: Event, what: str) -> None:
        if isinstance(ev, LineLost):
            raise _Hangup(HangupCause.LINE_DROPPED, f"line lost {what}: {ev.message}".rstrip(": "))

    def _send(self, *frames: bytes) -> Gen:
        ev = yield SendFrames(tuple(frames))
        self._lost(ev, "while sending frames")

    def _command(self, frames: tuple[bytes, ...], name: str, *, tries: int = MAX_TRIES,
                 timeout: float = T4) -> Generator[Action, Event, Frame]:
        """Send a command and wait for the response; repeat on silence, CRP or bad FCS."""
        for _ in range(tries):
            yield from self._send(*frames)
            ev = yield ReceiveFrames(timeout)
            self._lost(ev, f"waiting for the response to {name}")
            last = self._last(ev)
            if last is None or last.name == "CRP":
                continue
            return last
        raise _Hangup(HangupCause.PROTOCOL_ERROR, f"no response to {name} after {tries} tries",
                      dcn=True)


class T30Sender(Engine):
    """The calling terminal sending documents."""

    is_caller = True

    def __init__(self, pages: list[PageImage], options: SendOptions | None = None) -> None:
        super().__init__()
        if not pages:
            raise ValueError("nothing to send")
        self.pages = pages
        self.options = options or SendOptions()
        self.remote_caps: Capabilities | None = None
        self._recoded: dict[tuple[int, str, float], PageImage] = {}

    # phase B ------------------------------------------------------------------------------
    def _wait_dis(self) -> Generator[Action, Event, Capabilities]:
        for _ in range(MAX_TRIES + 2):
            ev = yield ReceiveFrames(T1)
            if isinstance(ev, LineLost):
                raise _Hangup(HangupCause.NO_CARRIER, f"line lost before DIS: {ev.message}")
            if isinstance(ev, TimedOut):
                raise _Hangup(HangupCause.NO_CARRIER, "no DIS from the far end (T1)")
            if not isinstance(ev, FramesReceived):
                continue
            csi = self._find(ev, "CSI")
            if csi is not None:
                self.remote_id = decode_id(csi.fif)
            nsf = self._find(ev, "NSF")
            if nsf is not None:
                self.remote_nsf = nsf.fif
            if self._find(ev, "DCN"):
                raise _Hangup(HangupCause.REMOTE_REJECTED, "far end sent DCN in phase B")
            dis = self._find(ev, "DIS")
            if dis is not None:
                caps = Capabilities.decode(dis.fif)
                log.info("t30 DIS", extra={"caps": repr(caps), "remote_id": self.remote_id})
                self.remote_caps = caps
                self._note(ProgressKind.CONNECTED)
                return caps
        raise _Hangup(HangupCause.PROTOCOL_ERROR, "no valid DIS from the far end", dcn=True)

    def _choose(self, caps: Capabilities, page: PageImage) -> Params:
        o = self.options
        reject = HangupCause.REMOTE_REJECTED
        if not caps.receive:
            raise _Hangup(reject, "far end cannot receive (DIS bit 10 clear)", dcn=True)
        ecm = o.ecm and caps.ecm
        enc = page.encoding
        if enc == "mr" and not caps.mr:
            raise _Hangup(reject, "far end cannot receive MR (2-D) pages", dcn=True)
        if enc == "mmr" and not (ecm and caps.mmr):
            raise _Hangup(reject, "far end cannot receive MMR (T.6) pages with ECM", dcn=True)
        y = y_res_class(page.y_res)
        if (y == Y_RES_FINE and not caps.fine) or (y == Y_RES_SUPERFINE and not caps.superfine):
            raise _Hangup(reject, f"far end cannot receive {page.y_res:g} lpi", dcn=True)
        if page.width > caps.max_width or page.width not in (1728, 2048, 2432):
            raise _Hangup(reject, f"far end cannot receive {page.width}-pel lines", dcn=True)
        rates = [r for r in caps.rates()
                 if o.min_bit_rate <= r[0] <= o.max_bit_rate and r[1] in o.modems]
        if not rates:
            raise _Hangup(reject, "no common modulation", dcn=True)
        rate, fam = rates[0]
        if o.ecm_frame_size not in (64, 256):
            raise ValueError(f"ECM frame size {o.ecm_frame_size} (64 or 256)")
        return Params(bit_rate=rate, modem=fam, y_res=y, encoding=enc, ecm=ecm,
                      ecm_frame_size=o.ecm_frame_size, width=page.width, length=caps.length,
                      min_scan_ms=0 if ecm else caps.scan_ms(y))

    def _fallback(self, p: Params) -> Params | None:
        assert self.remote_caps is not None
        o = self.options
        lower = [(r, f) for r, f in self.remote_caps.rates()
                 if o.min_bit_rate <= r < p.bit_rate and f in o.modems]
        if not lower:
            return None
        return p.with_rate(*lower[0])

    def _train(self, p: Params) -> GenR:
        """DCS + TCF until CFR; falls back on FTT."""
        tsi = self._frame(FCF.TSI, encode_id(self.options.local_id), final=False)
        while True:
            self.params = p
            for _ in range(MAX_TRIES):
                dcs = self._frame(FCF.DCS, p.encode())
                frames = (tsi, dcs) if self.options.local_id else (dcs,)
                yield from self._send(*frames)
                yield Silence(TURNAROUND_MS)
                ev = yield SendTCF(p.modulation(), p.bit_rate, p.tcf_octets())
                self._lost(ev, "sending TCF")
                ev = yield ReceiveFrames(T4)
                self._lost(ev, "waiting for CFR")
                if self._find(ev, "DCN"):
                    raise _Hangup(HangupCause.REMOTE_REJECTED, "far end sent DCN after DCS")
                if self._find(ev, "CFR"):
                    log.info("t30 trained", extra={"bit_rate": p.bit_rate, "modem": p.modem})
                    self._note(ProgressKind.NEGOTIATED, message=f"{p.bit_rate} bit/s {p.modem}")
                    return p
                if self._find(ev, "FTT"):
                    break
                # DIS again, CRP, nothing, garbage: repeat DCS
            else:
                raise _Hangup(HangupCause.PROTOCOL_ERROR,
                              f"no response to DCS after {MAX_TRIES} tries", dcn=True)
            lower = self._fallback(p)
            if lower is None:
                raise _Hangup(HangupCause.PROTOCOL_ERROR,
                              f"failure to train at {p.bit_rate} bit/s", dcn=True)
            log.info("t30 FTT, falling back", extra={"bit_rate": lower.bit_rate})
            p = lower

    # phases C/D ---------------------------------------------------------------------------
    def _target(self, caps: Capabilities, page: PageImage) -> tuple[Encoding, float]:
        """The coding and resolution ``page`` goes out in (its own, without a recoder)."""
        if self.options.recode is None:
            return page.encoding, page.y_res
        enc: Encoding = "mh"
        if self.options.ecm and caps.ecm and caps.mmr:
            enc = "mmr"
        elif caps.mr:
            enc = "mr"
        y = page.y_res
        if y_res_class(y) == Y_RES_SUPERFINE and not caps.superfine:
            y = Y_RES_FINE
        if y_res_class(y) == Y_RES_FINE and not caps.fine:
            y = Y_RES_STANDARD
        return enc, min(y, page.y_res)

    def _adapt(self, caps: Capabilities, page: PageImage) -> PageImage:
        enc, y = self._target(caps, page)
        if enc == page.encoding and y_res_class(y) == y_res_class(page.y_res):
            return page
        assert self.options.recode is not None
        key = (id(page), enc, y_res_class(y))
        if key not in self._recoded:  # a page resent after RTN is not re-coded again
            self._recoded[key] = self.options.recode(page, enc, y)
        return self._recoded[key]

    def _same_format(self, caps: Capabilities, a: PageImage, b: PageImage) -> bool:
        (enc_a, y_a), (enc_b, y_b) = self._target(caps, a), self._target(caps, b)
        return enc_a == enc_b and y_res_class(y_a) == y_res_class(y_b) and a.width == b.width

    def _run(self) -> Gen:
        caps = yield from self._wait_dis()
        n = len(self.pages)
        idx = 0
        p = self._choose(caps, self._adapt(caps, self.pages[0]))
        p = yield from self._train(p)
        retries = 0
        while idx < n:
            page = self._adapt(caps, self.pages[idx])
            if idx + 1 == n:
                ppm = FCF.EOP
            elif not self._same_format(caps, self.pages[idx], self.pages[idx + 1]):
                ppm = FCF.EOM
            else:
                ppm = FCF.MPS
            self._note(ProgressKind.PAGE_STARTED, page=idx + 1, pages=n)
            if p.ecm:
                yield from self._send_ecm_page(p, page, idx, ppm)
                resp_name = "MCF"
            else:
                resp_name = yield from self._send_page(p, page, ppm)
            if resp_name in ("MCF", "RTP", "PIP"):
                idx += 1
                retries = 0
                self.pages_done = idx
                self._note(ProgressKind.PAGE_DONE, page=idx, pages=n)
                if idx == n:
                    break
                if ppm == FCF.EOM:
                    caps = yield from self._wait_dis()
                    p = self._choose(caps, self._adapt(caps, self.pages[idx]))
                    p = yield from self._train(p)
                elif resp_name == "RTP":
                    p = yield from self._train(p)
            elif resp_name == "RTN":
                retries += 1
                if retries > MAX_PAGE_RETRIES:
                    raise _Hangup(HangupCause.PROTOCOL_ERROR,
                                  f"page {idx + 1} refused (RTN) {retries} times", dcn=True)
                self._note(ProgressKind.PAGE_RETRY, page=idx + 1, pages=n,
                           message="RTN: retrain and resend")
                p = self._fallback(p) or p
                p = yield from self._train(p)
            elif resp_name == "DCN":
                raise _Hangup(HangupCause.PROTOCOL_ERROR,
                              f"far end disconnected after page {idx + 1}")
            else:
                raise _Hangup(HangupCause.PROTOCOL_ERROR,
                              f"unexpected {resp_name} after page {idx + 1}", dcn=True)
        yield from self._send(self._frame(FCF.DCN))
        yield Hangup(HangupCause.OK, f"{n} page(s) sent")

    def _send_page(self, p: Params, page: PageImage, ppm: int) -> Generator[Action, Event, str]:
        data = t4.prepare_non_ecm(page.data, page.encoding, p.min_scan_bits())
        yield Silence(TURNAROUND_MS)
        ev = yield SendImage(p.modulation(short_train=True), p.bit_rate, data)
        self._lost(ev, "sending a page")
        yield Silence(TURNAROUND_MS)
        name = {FCF.MPS: "MPS", FCF.EOP: "EOP", FCF.EOM: "EOM"}[ppm]
        resp = yield from self._command((self._frame(ppm),), name)
        return resp.name

    def _send_ecm_page(self, p: Params, page: PageImage, page_no: int, ppm: int) -> Gen:
        data = bit_reverse(page.data)
        if page.encoding != "mmr":
            data += t4.pack(t4.rtc_bits(page.encoding), msb_first=False)
        fs = p.ecm_frame_size
        if len(data) % fs:
            data += bytes(fs - len(data) % fs)
        chunks = [data[i:i + fs] for i in range(0, len(data), fs)]
        blocks = [chunks[i:i + 256] for i in range(0, len(chunks), 256)]
        for block_no, block in enumerate(blocks):
            last = block_no == len(blocks) - 1
            to_send = list(range(len(block)))
            pprs = 0
            while True:
                frames = [build_frame(FCF.FCD, bytes((i,)) + block[i], final=False)
                          for i in to_send]
                frames += [build_frame(FCF.RCP, final=False)] * 3
                # T.4 Annex A: each block starts with a synchronisation sequence of flags,
                # 200 ms +- 100 ms after the modem's training (HylaFAX sends 200 ms too).
                preamble = ecm_preamble_flags(p.bit_rate)
                yield Silence(TURNAROUND_MS)
                ev = yield SendImage(p.modulation(short_train=True), p.bit_rate,
                                     hdlc_encode(frames, preamble_flags=preamble), ecm=True)
                self._lost(ev, "sending an ECM block")
                yield Silence(TURNAROUND_MS)
                pps_fif = bytes(((ppm | self._x) if last else 0, page_no & 0xFF, block_no & 0xFF,
                                 len(block) - 1))
                resp = yield from self._command((self._frame(FCF.PPS, pps_fif),), "PPS")
                rnr = 0
                while resp.name == "RNR":
                    rnr += 1
                    if rnr * T4 > T5:
                        raise _Hangup(HangupCause.PROTOCOL_ERROR, "far end not ready (T5)",
                                      dcn=True)
                    resp = yield from self._command((self._frame(FCF.RR),), "RR")
                if resp.name == "MCF":
                    break
                if resp.name == "PPR":
                    pprs += 1
                    to_send = [i for i in range(len(block))
                               if i // 8 < len(resp.fif) and resp.fif[i // 8] >> (i % 8) & 1]
                    if not to_send:
                        to_send = list(range(len(block)))
                    self._note(ProgressKind.PAGE_RETRY, page=page_no + 1, pages=len(self.pages),
                               message=f"PPR: {len(to_send)} frame(s) to resend")
                    if pprs % 4 == 0:
                        lower = self._fallback(p)
                        if lower is None:
                            raise _Hangup(HangupCause.PROTOCOL_ERROR,
                                          "ECM block still bad after 4 PPR at the lowest rate",
                                          dcn=True)
                        ctr = yield from self._command(
                            (self._frame(FCF.CTC, lower.encode()[:2]),), "CTC")
                        if ctr.name != "CTR":
                            raise _Hangup(HangupCause.PROTOCOL_ERROR,
                                          f"unexpected {ctr.name} after CTC", dcn=True)
                        p = lower
                        self.params = p
                    continue
                if resp.name == "DCN":
                    raise _Hangup(HangupCause.PROTOCOL_ERROR,
                                  f"far end disconnected during page {page_no + 1}")
                raise _Hangup(HangupCause.PROTOCOL_ERROR, f"unexpected {resp.name} after PPS",
                              dcn=True)


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
                raise _Hangup(HangupCause.NO_CARRIER,
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
                    raise _Hangup(cause, "no command from the caller within T1")
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
                    raise _Hangup(HangupCause.LINE_DROPPED, "far end disconnected in phase B")
                raise _Hangup(HangupCause.REMOTE_REJECTED, "far end sent DCN in phase B")
            dcs = self._find(ev, "DCS")
            if dcs is None:
                continue
            p = Params.decode(dcs.fif)
            self.params = p
            if p.encoding not in self.options.accept_encodings or (p.ecm and not self.options.ecm):
                raise _Hangup(HangupCause.PROTOCOL_ERROR,
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
                raise _Hangup(HangupCause.LINE_DROPPED, f"line lost during page {self._page_no + 1}")
            if isinstance(ev, DataReceived):
                page = t4.parse_non_ecm(ev.data, p.encoding)
                self._note(ProgressKind.PAGE_STARTED, page=self._page_no + 1)
            frame = yield from self._wait_ppm()
            if frame is None:
                silent += 1
                if silent >= MAX_TRIES:
                    cause = (HangupCause.LINE_DROPPED if page is not None or self.pages_done
                             else HangupCause.PROTOCOL_ERROR)
                    raise _Hangup(cause, f"nothing from the far end after page {self._page_no}")
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
                raise _Hangup(HangupCause.LINE_DROPPED,
                              f"far end disconnected after {self.pages_done} page(s)")
            elif name == "CRP" and last_resp is not None:
                yield from self._send(last_resp)

    def _receive_ecm(self, p: Params) -> Generator[Action, Event, tuple[str, Params]]:
        page_buf = bytearray()
        block: dict[int, bytes] = {}
        acked: tuple[int, int] | None = None
        silent = 0
        while True:
            ev = yield ReceiveImage(p.modulation(short_train=True), p.bit_rate, T2, ecm=True)
            if isinstance(ev, LineLost):
                raise _Hangup(HangupCause.LINE_DROPPED, f"line lost during page {self._page_no + 1}")
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
                    raise _Hangup(HangupCause.LINE_DROPPED,
                                  f"nothing from the far end during page {self._page_no + 1}")
                continue
            silent = 0
            if frame.name == "PPS" and len(frame.fif) >= 4:
                ppm = frame.fif[0] & 0xFE
                key = (frame.fif[1], frame.fif[2])
                count = frame.fif[3] + 1
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
                acked = key
                if ppm == 0:
                    yield from self._send(self._frame(FCF.MCF))
                    continue
                self._note(ProgressKind.PAGE_STARTED, page=self._page_no + 1)
                data = bit_reverse(bytes(page_buf))
                decoded = decode_page(data, p.encoding, p.width)
                self._deliver(data, decoded.lines, p, True)
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
                yield from self._send(self._frame(FCF.ERR))
            elif frame.name == "DCN":
                raise _Hangup(HangupCause.LINE_DROPPED,
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
    "T1",
    "T2",
    "T4",
    "T5",
    "BadLineCheck",
    "Engine",
    "PageCheck",
    "PageQuality",
    "T30Receiver",
    "T30Sender",
    "TCFJudge",
]
