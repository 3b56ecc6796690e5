"""The calling terminal of the sans-IO T.30 engine: phase B (DIS, DCS/TCF, fallback),
phases C/D for non-ECM pages and ECM blocks (PPS/PPR/CTC/RNR), then DCN.

See :mod:`modem.t30.engine` for how an engine is driven.
"""


from __future__ import annotations

import logging
from collections.abc import Generator

from modem.api import (
    Encoding,
    HangupCause,
    PageImage,
    ProgressKind,
    SendOptions,
)
from modem.hdlc import (
    FCF,
    bit_reverse,
    build_frame,
    hdlc_encode,
)
from modem.t30 import t4
from modem.t30.dis import (
    Y_RES_FINE,
    Y_RES_STANDARD,
    Y_RES_SUPERFINE,
    Capabilities,
    Params,
    decode_id,
    encode_id,
)
from modem.t30.engine import (
    MAX_PAGE_RETRIES,
    MAX_TRIES,
    T1,
    T4,
    T5,
    TURNAROUND_MS,
    Engine,
    Gen,
    GenR,
    HangupSignal,
    ecm_preamble_flags,
    y_res_class,
)
from modem.t30.messages import (
    Action,
    Event,
    FramesReceived,
    Hangup,
    LineLost,
    ReceiveFrames,
    SendImage,
    SendTCF,
    Silence,
    TimedOut,
)

log = logging.getLogger(__name__)


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
                raise HangupSignal(HangupCause.NO_CARRIER, f"line lost before DIS: {ev.message}")
            if isinstance(ev, TimedOut):
                raise HangupSignal(HangupCause.NO_CARRIER, "no DIS from the far end (T1)")
            if not isinstance(ev, FramesReceived):
                continue
            csi = self._find(ev, "CSI")
            if csi is not None:
                self.remote_id = decode_id(csi.fif)
            nsf = self._find(ev, "NSF")
            if nsf is not None:
                self.remote_nsf = nsf.fif
            if self._find(ev, "DCN"):
                raise HangupSignal(HangupCause.REMOTE_REJECTED, "far end sent DCN in phase B")
            dis = self._find(ev, "DIS")
            if dis is not None:
                caps = Capabilities.decode(dis.fif)
                log.info("t30 DIS", extra={"caps": repr(caps), "remote_id": self.remote_id})
                self.remote_caps = caps
                self._note(ProgressKind.CONNECTED)
                return caps
        raise HangupSignal(HangupCause.PROTOCOL_ERROR, "no valid DIS from the far end", dcn=True)

    def _choose(self, caps: Capabilities, page: PageImage) -> Params:
        o = self.options
        reject = HangupCause.REMOTE_REJECTED
        if not caps.receive:
            raise HangupSignal(reject, "far end cannot receive (DIS bit 10 clear)", dcn=True)
        ecm = o.ecm and caps.ecm
        enc = page.encoding
        if enc == "mr" and not caps.mr:
            raise HangupSignal(reject, "far end cannot receive MR (2-D) pages", dcn=True)
        if enc == "mmr" and not (ecm and caps.mmr):
            raise HangupSignal(reject, "far end cannot receive MMR (T.6) pages with ECM", dcn=True)
        y = y_res_class(page.y_res)
        if (y == Y_RES_FINE and not caps.fine) or (y == Y_RES_SUPERFINE and not caps.superfine):
            raise HangupSignal(reject, f"far end cannot receive {page.y_res:g} lpi", dcn=True)
        if page.width > caps.max_width or page.width not in (1728, 2048, 2432):
            raise HangupSignal(reject, f"far end cannot receive {page.width}-pel lines", dcn=True)
        rates = [r for r in caps.rates()
                 if o.min_bit_rate <= r[0] <= o.max_bit_rate and r[1] in o.modems]
        if not rates:
            raise HangupSignal(reject, "no common modulation", dcn=True)
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
                    raise HangupSignal(HangupCause.REMOTE_REJECTED, "far end sent DCN after DCS")
                if self._find(ev, "CFR"):
                    log.info("t30 trained", extra={"bit_rate": p.bit_rate, "modem": p.modem})
                    self._note(ProgressKind.NEGOTIATED, message=f"{p.bit_rate} bit/s {p.modem}")
                    return p
                if self._find(ev, "FTT"):
                    break
                # DIS again, CRP, nothing, garbage: repeat DCS
            else:
                raise HangupSignal(HangupCause.PROTOCOL_ERROR,
                              f"no response to DCS after {MAX_TRIES} tries", dcn=True)
            lower = self._fallback(p)
            if lower is None:
                raise HangupSignal(HangupCause.PROTOCOL_ERROR,
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
                    raise HangupSignal(HangupCause.PROTOCOL_ERROR,
                                  f"page {idx + 1} refused (RTN) {retries} times", dcn=True)
                self._note(ProgressKind.PAGE_RETRY, page=idx + 1, pages=n,
                           message="RTN: retrain and resend")
                p = self._fallback(p) or p
                p = yield from self._train(p)
            elif resp_name == "DCN":
                raise HangupSignal(HangupCause.PROTOCOL_ERROR,
                              f"far end disconnected after page {idx + 1}")
            else:
                raise HangupSignal(HangupCause.PROTOCOL_ERROR,
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
                        raise HangupSignal(HangupCause.PROTOCOL_ERROR, "far end not ready (T5)",
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
                            raise HangupSignal(HangupCause.PROTOCOL_ERROR,
                                          "ECM block still bad after 4 PPR at the lowest rate",
                                          dcn=True)
                        ctr = yield from self._command(
                            (self._frame(FCF.CTC, lower.encode()[:2]),), "CTC")
                        if ctr.name != "CTR":
                            raise HangupSignal(HangupCause.PROTOCOL_ERROR,
                                          f"unexpected {ctr.name} after CTC", dcn=True)
                        p = lower
                        self.params = p
                    continue
                if resp.name == "DCN":
                    raise HangupSignal(HangupCause.PROTOCOL_ERROR,
                                  f"far end disconnected during page {page_no + 1}")
                raise HangupSignal(HangupCause.PROTOCOL_ERROR, f"unexpected {resp.name} after PPS",
                              dcn=True)


__all__ = ["T30Sender"]
