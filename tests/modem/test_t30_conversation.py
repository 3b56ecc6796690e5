"""Caller and called T.30 engines talking to each other through an in-memory line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from modem.api import HangupCause, PageImage, ProgressKind, ReceiveOptions, SendOptions
from modem.hdlc import FCF, build_frame, parse_frame
from modem.t30 import T30Receiver, T30Sender
from modem.t30 import messages as m
from modem.t30.dis import NonStandard, decode_nsf
from modem.t30.engine import ecm_preamble_flags
from tests.modem.fakeline import Burst, FakeLine
from tests.modem.pages import decode, drawing, encode, pixels


def run(pages: list[PageImage], *, sopts: SendOptions | None = None,
        ropts: ReceiveOptions | None = None, tamper=None  # type: ignore[no-untyped-def]
        ) -> tuple[T30Sender, T30Receiver, FakeLine, m.Hangup, m.Hangup]:
    s = T30Sender(pages, sopts or SendOptions(local_id="+49 30 1234"))
    r = T30Receiver(ropts or ReceiveOptions(local_id="5551002"))
    line = FakeLine(s, r, tamper=tamper)
    a, b = line.run()
    return s, r, line, a, b


def sent_names(line: FakeLine, who: str) -> list[str]:
    out: list[str] = []
    for entry in line.log:
        if entry.startswith(who + "> "):
            out.extend(entry[3:].split())
    return out


def assert_pages_equal(received: list, images: list[Image.Image]) -> None:  # type: ignore[type-arg]
    assert len(received) == len(images)
    for page, img in zip(received, images, strict=True):
        assert np.array_equal(decode(page.image, img.height), pixels(img))


@pytest.mark.parametrize("encoding", ["mh", "mr"])
def test_two_pages_non_ecm_mps_eop(encoding: str) -> None:
    images = [drawing(300, 1), drawing(200, 2)]
    pages = [encode(i, encoding) for i in images]  # type: ignore[arg-type]
    s, r, line, a, b = run(pages, sopts=SendOptions(local_id="+49 30 1234", ecm=False))
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert sent_names(line, "A") == ["TSI", "DCS", "TCF@14400", "IMAGE@14400", "MPS",
                                     "IMAGE@14400", "EOP", "DCN"]
    assert sent_names(line, "B") == ["CSI", "DIS", "CFR", "MCF", "MCF"]
    got = r.take_pages()
    assert [p.number for p in got] == [1, 2] and all(p.good for p in got)
    assert [p.image.length for p in got] == [300, 200]
    assert all(p.image.encoding == encoding and p.image.y_res == 196.0 for p in got)
    assert_pages_equal(got, images)
    assert s.remote_id == "5551002" and r.remote_id == "+49 30 1234"
    assert s.pages_done == 2 and r.pages_done == 2
    kinds = [p.kind for p in s.take_progress()]
    assert kinds.count(ProgressKind.PAGE_DONE) == 2 and kinds[-1] is ProgressKind.HANGUP


def test_min_scan_line_time_fill_reaches_the_receiver_intact() -> None:
    """A receiver asking for 20 ms scan lines gets padded lines that still decode."""
    images = [drawing(120, 3)]
    pages = [encode(images[0], "mh")]
    s = T30Sender(pages, SendOptions(ecm=False))
    r = T30Receiver(ReceiveOptions(ecm=False))
    r.caps = lambda: type(T30Receiver(ReceiveOptions()).caps())(  # type: ignore[method-assign]
        modems=frozenset({"v27", "v29"}), mr=False, mmr=False, ecm=False, min_scan_ms=20)
    sizes: list[int] = []

    def spy(who: str, burst: Burst) -> Burst:
        if burst.kind == "image":
            sizes.append(len(burst.payload))  # type: ignore[arg-type]
        return burst

    a, b = FakeLine(s, r, tamper=spy).run()
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert s.params is not None and s.params.min_scan_ms == 20 and s.params.bit_rate == 9600
    # 120 lines at >= 192 bits each: the page cannot be shorter than that
    assert sizes[0] * 8 >= 120 * 9600 * 20 // 1000
    assert_pages_equal(r.take_pages(), images)


def test_rtn_makes_the_sender_retrain_and_resend() -> None:
    images = [drawing(300, 4), drawing(100, 5)]
    pages = [encode(i, "mh") for i in images]
    state = {"images": 0}

    def cut_first_page(who: str, burst: Burst) -> Burst:
        if burst.kind == "image":
            state["images"] += 1
            if state["images"] == 1:  # carrier trouble: the first page arrives truncated
                data = burst.payload
                return Burst("image", data[: len(data) // 2], burst.modulation)  # type: ignore[index]
        return burst

    s, r, line, a, b = run(pages, sopts=SendOptions(ecm=False), tamper=cut_first_page)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    names = sent_names(line, "B")
    assert names[:4] == ["CSI", "DIS", "CFR", "RTN"]
    assert sent_names(line, "A")[:8] == ["DCS", "TCF@14400", "IMAGE@14400", "MPS",
                                         "DCS", "TCF@12000", "IMAGE@12000", "MPS"]
    got = r.take_pages()
    assert [(p.number, p.good) for p in got] == [(1, False), (1, True), (2, True)]
    assert_pages_equal(got[1:], images)
    assert s.pages_done == 2 and r.pages_done == 2
    assert any(p.kind is ProgressKind.PAGE_RETRY for p in s.take_progress())


def test_bad_tcf_gives_ftt_and_rate_fallback() -> None:
    pages = [encode(drawing(50, 6), "mh")]
    seen: list[int] = []

    def noisy_first_tcf(who: str, burst: Burst) -> Burst:
        if burst.kind == "tcf":
            seen.append(burst.modulation)
            if len(seen) == 1:
                return Burst("tcf", bytes([0x55]) * len(burst.payload), burst.modulation)  # type: ignore[arg-type]
        return burst

    s, _r, line, a, _b = run(pages, sopts=SendOptions(ecm=False), tamper=noisy_first_tcf)
    assert a.cause is HangupCause.OK
    assert "FTT" in sent_names(line, "B")
    assert seen == [145, 121]  # V.17 14400 then 12000 (long training)
    assert s.params is not None and s.params.bit_rate == 12000


def test_training_fails_at_every_rate() -> None:
    pages = [encode(drawing(50, 6), "mh")]

    def all_noise(who: str, burst: Burst) -> Burst:
        if burst.kind == "tcf":
            return Burst("tcf", b"\xff" * len(burst.payload), burst.modulation)  # type: ignore[arg-type]
        return burst

    _s, _r, line, a, b = run(pages, sopts=SendOptions(ecm=False, min_bit_rate=7200),
                           tamper=all_noise)
    assert a.cause is HangupCause.PROTOCOL_ERROR and "failure to train" in a.message
    assert sent_names(line, "A")[-1] == "DCN"
    assert b.cause is HangupCause.REMOTE_REJECTED  # the caller hung up in phase B


def test_lost_mcf_is_repeated_on_the_repeated_command() -> None:
    images = [drawing(100, 7), drawing(100, 8)]
    pages = [encode(i, "mh") for i in images]
    dropped = {"n": 0}

    def drop_first_mcf(who: str, burst: Burst) -> Burst | None:
        if burst.kind == "frames" and who == "B" and dropped["n"] == 0:
            names = [parse_frame(f).name for f in burst.payload]  # type: ignore[attr-defined]
            if names == ["MCF"]:
                dropped["n"] += 1
                return None
        return burst

    _s, r, line, a, b = run(pages, sopts=SendOptions(ecm=False), tamper=drop_first_mcf)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert sent_names(line, "A").count("MPS") == 2  # repeated after T4
    got = r.take_pages()
    assert [p.number for p in got] == [1, 2]  # no duplicate page
    assert_pages_equal(got, images)


def test_eom_renegotiates_between_pages_of_different_resolution() -> None:
    images = [drawing(100, 9), drawing(60, 10)]
    pages = [encode(images[0], "mh", 196.0), encode(images[1], "mh", 98.0)]
    _s, r, line, a, b = run(pages, sopts=SendOptions(ecm=False))
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert "EOM" in sent_names(line, "A")
    assert sent_names(line, "B").count("DIS") == 2
    got = r.take_pages()
    assert [p.image.y_res for p in got] == [196.0, 98.0]
    assert_pages_equal(got, images)


@pytest.mark.parametrize("encoding", ["mh", "mmr"])
def test_ecm_pages(encoding: str) -> None:
    images = [drawing(400, 13), drawing(150, 14)]
    pages = [encode(i, encoding) for i in images]  # type: ignore[arg-type]
    s, r, line, a, b = run(pages)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert s.params is not None and s.params.ecm
    assert sent_names(line, "A").count("PPS") == 2 and "MPS" not in sent_names(line, "A")
    got = r.take_pages()
    assert [p.image.length for p in got] == [400, 150]  # decoded, also for MMR
    assert_pages_equal(got, images)


def test_ecm_page_rows_come_from_the_given_counter_and_fall_back_when_it_fails() -> None:
    """ReceiveOptions.count_rows (umfax passes libtiff's) counts ECM pages' rows; when it
    raises ValueError the engine's own decoder counts them instead."""
    images = [drawing(400, 13), drawing(150, 14)]
    pages = [encode(i, "mmr") for i in images]
    asked: list[tuple[str, int]] = []

    def counter(data: bytes, encoding: str, width: int) -> int:
        asked.append((encoding, width))
        if len(asked) == 2:
            raise ValueError("cannot read it")
        return 1234

    _s, r, _line, a, b = run(pages, ropts=ReceiveOptions(local_id="5551002", count_rows=counter))
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert asked == [("mmr", 1728), ("mmr", 1728)]
    assert [p.image.length for p in r.take_pages()] == [1234, 150]


def _flip_bits(stream: bytes, positions: list[int]) -> bytes:
    out = bytearray(stream)
    for p in positions:
        out[p] ^= 0x08
    return bytes(out)


def test_ecm_ppr_retransmits_only_bad_frames_and_partial_pages() -> None:
    rng = np.random.default_rng(5)
    noise = Image.fromarray(((rng.random((300, 1728)) > 0.5) * 255).astype(np.uint8)).convert("1")
    images = [noise]
    pages = [encode(noise, "mmr")]
    assert len(pages[0].data) > 256 * 256  # more than one partial page (block)
    bursts: list[int] = []

    def damage_first_block(who: str, burst: Burst) -> Burst:
        if burst.kind == "image":
            bursts.append(len(burst.payload))  # type: ignore[arg-type]
            if len(bursts) == 1:
                data = burst.payload
                return Burst("image", _flip_bits(data, [5000, 20000, 40000]), burst.modulation)  # type: ignore[arg-type]
        return burst

    s, r, line, a, b = run(pages, tamper=damage_first_block)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    names_b = sent_names(line, "B")
    assert names_b.count("PPR") == 1
    blocks = -(-len(pages[0].data) // (256 * 256))
    assert blocks >= 2
    # every block once, plus the retransmission of (at most 3) damaged frames of block 1
    assert len(bursts) == blocks + 1 and bursts[1] < 4 * 300
    assert sent_names(line, "A").count("PPS") == blocks + 1
    assert_pages_equal(r.take_pages(), images)
    kinds = [p.kind for p in s.take_progress()]
    assert ProgressKind.PAGE_RETRY in kinds


def test_ecm_four_pprs_lead_to_ctc_and_a_lower_rate() -> None:
    images = [drawing(200, 15)]
    pages = [encode(images[0], "mh")]
    n = {"bursts": 0}

    def damage_four_times(who: str, burst: Burst) -> Burst:
        if burst.kind == "image":
            n["bursts"] += 1
            if n["bursts"] <= 4:
                # the first frame, just after the block's 200 ms of synchronisation flags
                first_frame = ecm_preamble_flags(14400) + 20
                return Burst("image", _flip_bits(burst.payload, [first_frame]), burst.modulation)  # type: ignore[arg-type]
        return burst

    s, r, line, a, b = run(pages, tamper=damage_four_times)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert sent_names(line, "B").count("PPR") == 4
    assert "CTC" in sent_names(line, "A") and "CTR" in sent_names(line, "B")
    assert s.params is not None and s.params.bit_rate == 12000
    assert_pages_equal(r.take_pages(), images)


def test_call_dropped_on_page_two_keeps_page_one() -> None:
    images = [drawing(100, 16), drawing(100, 17), drawing(100, 18)]
    pages = [encode(i, "mh") for i in images]
    n = {"images": 0}

    def drop_after_first_page(who: str, burst: Burst) -> Burst | None:
        if burst.kind == "image":
            n["images"] += 1
        return None if n["images"] >= 2 and who == "A" else burst

    s, r, _line, a, b = run(pages, sopts=SendOptions(ecm=False), tamper=drop_after_first_page)
    got = r.take_pages()
    assert [(p.number, p.good) for p in got] == [(1, True)]
    assert_pages_equal(got, images[:1])
    assert b.cause is HangupCause.LINE_DROPPED and r.pages_done == 1
    assert a.cause is HangupCause.PROTOCOL_ERROR and s.pages_done == 1


def test_remote_cannot_take_mr_pages() -> None:
    pages = [encode(drawing(50, 19), "mr")]
    _s, _r, line, a, b = run(pages, ropts=ReceiveOptions(accept_encodings=("mh",)))
    assert a.cause is HangupCause.REMOTE_REJECTED and "MR" in a.message
    assert sent_names(line, "A") == ["DCN"]
    assert b.cause is HangupCause.REMOTE_REJECTED


def test_mmr_without_ecm_is_rejected() -> None:
    pages = [encode(drawing(50, 19), "mmr")]
    _s, _r, _line, a, _b = run(pages, ropts=ReceiveOptions(ecm=False))
    assert a.cause is HangupCause.REMOTE_REJECTED and "MMR" in a.message


def test_with_a_recoder_pages_go_out_in_what_the_far_end_takes() -> None:
    """MMR pages to a receiver with no ECM that takes MH only: re-coded, not refused."""
    images = [drawing(60, 21), drawing(40, 22)]
    pages = [encode(i, "mmr") for i in images]
    asked: list[tuple[str, float]] = []

    def recode(page: PageImage, encoding: str, y_res: float) -> PageImage:
        asked.append((encoding, y_res))
        return encode(images[pages.index(page)], encoding, y_res)  # type: ignore[arg-type]

    _s, r, _line, a, b = run(pages, sopts=SendOptions(recode=recode),
                             ropts=ReceiveOptions(ecm=False, accept_encodings=("mh",)))
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK, a.message
    assert asked == [("mh", 196.0), ("mh", 196.0)]
    got = r.take_pages()
    assert [p.image.encoding for p in got] == ["mh", "mh"]
    assert_pages_equal(got, images)


# --- one engine driven by hand: timeouts and DCN ------------------------------------------

def _dis_frames(ecm: bool = False) -> m.FramesReceived:
    r = T30Receiver(ReceiveOptions(ecm=ecm))
    return m.FramesReceived((parse_frame(build_frame(FCF.DIS, r.caps().encode())),))


def test_sender_gets_no_dis() -> None:
    s = T30Sender([encode(drawing(20), "mh")])
    act = s.start()
    assert isinstance(act, m.ReceiveFrames) and act.timeout == 35.0  # T1
    end = s.step(m.TimedOut())
    assert isinstance(end, m.Hangup) and end.cause is HangupCause.NO_CARRIER


def test_sender_dcn_in_phase_b_is_remote_rejected() -> None:
    s = T30Sender([encode(drawing(20), "mh")])
    s.start()
    end = s.step(m.FramesReceived((parse_frame(build_frame(FCF.DCN)),)))
    assert isinstance(end, m.Hangup) and end.cause is HangupCause.REMOTE_REJECTED


def test_sender_no_response_to_dcs_three_times() -> None:
    s = T30Sender([encode(drawing(20), "mh")], SendOptions(ecm=False))
    s.start()
    act = s.step(_dis_frames())
    dcs_count = 0
    while not isinstance(act, m.Hangup):
        if isinstance(act, m.SendFrames):
            names = [parse_frame(f).name for f in act.frames]
            dcs_count += names.count("DCS")
            act = s.step(m.Done())
        elif isinstance(act, m.ReceiveFrames):
            assert act.timeout == 3.0  # T4
            act = s.step(m.TimedOut())
        else:
            act = s.step(m.Done())
    assert dcs_count == 3
    assert act.cause is HangupCause.PROTOCOL_ERROR
    assert act.message == "no response to DCS after 3 tries"


def test_sender_line_lost_mid_page() -> None:
    s = T30Sender([encode(drawing(20), "mh")], SendOptions(ecm=False))
    s.start()
    act = s.step(_dis_frames())
    while not isinstance(act, m.SendImage):
        if isinstance(act, m.ReceiveFrames):
            act = s.step(m.FramesReceived((parse_frame(build_frame(FCF.CFR)),)))
        else:
            act = s.step(m.Done())
    end = s.step(m.LineLost("NO CARRIER"))
    assert isinstance(end, m.Hangup) and end.cause is HangupCause.LINE_DROPPED


def test_receiver_hears_nothing_until_t1() -> None:
    r = T30Receiver()
    act = r.start()
    sent_dis = 0
    while not isinstance(act, m.Hangup):
        if isinstance(act, m.SendFrames):
            sent_dis += 1
            act = r.step(m.Done())
        else:
            act = r.step(m.TimedOut())
    assert act.cause is HangupCause.NO_CARRIER
    assert 5 <= sent_dis <= 12  # DIS repeated every T4 until T1


def test_engine_refuses_events_after_hangup() -> None:
    s = T30Sender([encode(drawing(20), "mh")])
    s.start()
    s.step(m.TimedOut())
    with pytest.raises(Exception, match="finished"):
        s.step(m.TimedOut())


def test_ecm_with_64_octet_frames() -> None:
    images = [drawing(120, 25)]
    pages = [encode(images[0], "mr")]
    _s, r, _line, a, b = run(pages, sopts=SendOptions(ecm_frame_size=64))
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert r.params is not None and r.params.ecm_frame_size == 64
    assert_pages_equal(r.take_pages(), images)


def test_garbled_command_gets_crp_and_is_repeated() -> None:
    images = [drawing(60, 26)]
    pages = [encode(images[0], "mh")]
    garbled = {"n": 0}

    def garble_eop(who: str, burst: Burst) -> Burst:
        if (burst.kind == "frames" and who == "A" and garbled["n"] == 0
                and [parse_frame(f).name for f in burst.payload] == ["EOP"]):  # type: ignore[attr-defined]
            garbled["n"] += 1
            return Burst("frames", (None,))  # bad FCS
        return burst

    _s, r, line, a, b = run(pages, sopts=SendOptions(ecm=False), tamper=garble_eop)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert "CRP" in sent_names(line, "B")
    assert sent_names(line, "A").count("EOP") == 2
    assert_pages_equal(r.take_pages(), images)


def test_page_with_many_bad_lines_gets_rtn() -> None:
    images = [drawing(300, 27)]
    pages = [encode(images[0], "mh")]
    n = {"images": 0}

    def noisy_page(who: str, burst: Burst) -> Burst:
        if burst.kind == "image":
            n["images"] += 1
            if n["images"] == 1:  # bit errors all over the first transmission
                data = bytearray(burst.payload)  # type: ignore[arg-type]
                for i in range(100, len(data) - 100, 97):
                    data[i] ^= 0x24
                return Burst("image", bytes(data), burst.modulation)
        return burst

    _s, r, line, a, b = run(pages, sopts=SendOptions(ecm=False), tamper=noisy_page)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    assert "RTN" in sent_names(line, "B")
    got = r.take_pages()
    assert [(p.number, p.good) for p in got] == [(1, False), (1, True)]
    assert_pages_equal(got[1:], images)


@pytest.mark.parametrize("y_res", [98.0, 196.0, 391.0])
def test_resolutions(y_res: float) -> None:
    images = [drawing(80, 28)]
    pages = [encode(images[0], "mr", y_res)]
    s, r, _line, a, b = run(pages)
    assert a.cause is HangupCause.OK and b.cause is HangupCause.OK
    got = r.take_pages()
    assert got[0].image.y_res == y_res and s.params is not None and s.params.y_res == y_res
    assert_pages_equal(got, images)


def test_remote_nsf_is_passed_through_and_none_is_sent() -> None:
    # an NSF as a Japanese-vendor machine sends it: T.35 country 0x00 (Japan), then octets
    nsf_fif = bytes((0x00, 0x00, 0x0E, 0x55, 0xAA))
    r = T30Receiver()
    s = T30Sender([encode(drawing(20), "mh")], SendOptions(local_id="1"))
    s.start()
    act = s.step(m.FramesReceived((
        parse_frame(build_frame(FCF.NSF, nsf_fif, final=False)),
        parse_frame(build_frame(FCF.CSI, b"2".ljust(20), final=False)),
        parse_frame(build_frame(FCF.DIS, r.caps().encode())),
    )))
    assert s.remote_nsf == nsf_fif
    info = decode_nsf(s.remote_nsf)
    assert info is not None and info.country == 0x00 and info.provider == nsf_fif[1:]
    assert decode_nsf(bytes((0xFF, 0x12, 0x34))) == NonStandard(0xFF, 0x12, b"\x34")
    assert decode_nsf(b"") is None
    assert isinstance(act, m.SendFrames)
    names = [parse_frame(f).name for f in act.frames]
    assert names == ["TSI", "DCS"]  # no NSS of ours
    # and the receiver's DIS comes without an NSF
    first = T30Receiver().start()
    assert isinstance(first, m.SendFrames)
    assert [parse_frame(f).name for f in first.frames] == ["CSI", "DIS"]
