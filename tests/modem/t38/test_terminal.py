"""Our T38Terminal (the T.30 engine over T.38 IFPs) against spandsp's t38_terminal and
against itself, in virtual time: 20 ms steps, IFPs passed directly, no sockets."""

from __future__ import annotations

import functools
import itertools
import time
from pathlib import Path

import numpy as np
import pytest

from modem.api import HangupCause, PageImage, ProgressKind, ReceiveOptions, SendOptions
from modem.t30 import T30Receiver, T30Sender
from modem.t38.ifp import DataType, FieldType, IfpData, IfpIndicator, Indicator, decode_ifp
from modem.t38.terminal import T38Terminal
from tests.modem.pages import decode, drawing, encode
from tests.modem.sim.conftest import needs_spandsp, tiff_bitmap
from tests.modem.t38.spandsp_peer import SpandspTerminal, multipage_tiff, run_ours, run_with_spandsp

RATE = {"v17": 14400, "v29": 9600, "v27": 4800}
MODES = [(False, "mh"), (False, "mr"), (True, "mh"), (True, "mr"), (True, "mmr")]


@functools.cache
def _pages(encoding: str, count: int, lines: int = 300) -> tuple[PageImage, ...]:
    return tuple(encode(drawing(lines, seed=n + 1), encoding) for n in range(count))  # type: ignore[arg-type]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a == b).all())


def _sender(pages: tuple[PageImage, ...], modem: str = "v17", ecm: bool = True,
            ) -> T38Terminal:
    opts = SendOptions(local_id="+1 555 0100", ecm=ecm, modems=(modem,))
    return T38Terminal(T30Sender(list(pages), opts), now=0.0, calling=True)


def _receiver(modem: str = "v17", ecm: bool = True, encodings: tuple[str, ...] = ("mh", "mr", "mmr"),
              ) -> T38Terminal:
    modems = {"v17": ("v17", "v29", "v27"), "v29": ("v29", "v27"), "v27": ("v27",)}[modem]
    opts = ReceiveOptions(local_id="+1 555 0199", ecm=ecm, modems=modems,
                          accept_encodings=encodings)  # type: ignore[arg-type]
    return T38Terminal(T30Receiver(opts), now=0.0, calling=False)


def _received(term: T38Terminal) -> list[PageImage]:
    engine = term.engine
    assert isinstance(engine, T30Receiver)
    got = engine.take_pages()
    assert all(p.good for p in got)
    return [p.image for p in got]


# --- the matrix against spandsp ------------------------------------------------------------------

MATRIX = [
    pytest.param(d, m, ecm, enc, n, id=f"{d}-{m}-{'ecm' if ecm else 'noecm'}-{enc}-{n}p")
    for d in ("to-spandsp", "from-spandsp") for m in ("v17", "v29", "v27") for ecm, enc in MODES
    for n in (1, 10)
]


@needs_spandsp
@pytest.mark.parametrize(("direction", "modem", "ecm", "encoding", "count"), MATRIX)
def test_matrix_against_spandsp(tmp_path: Path, direction: str, modem: str, ecm: bool,
                                encoding: str, count: int) -> None:
    pages = _pages(encoding, count, 300 if count == 1 else 120)
    if direction == "to-spandsp":
        ours = _sender(pages, modem, ecm)
        peer = SpandspTerminal(False, ecm=ecm, ident="SPANDSP RX", rx_file=tmp_path / "rx.tif")
    else:
        (tmp_path / "tx.tif").write_bytes(multipage_tiff(pages))
        encodings = ("mh",) if encoding == "mh" else ("mh", encoding)
        ours = _receiver(modem, ecm, encodings)
        peer = SpandspTerminal(True, ecm=ecm, ident="SPANDSP TX", tx_file=tmp_path / "tx.tif",
                               modems=(modem,), compressions=encodings)
    try:
        run_with_spandsp(ours, peer)
        assert ours.result is not None and ours.result.cause is HangupCause.OK, ours.result
        assert peer.phase_e == 0, peer.completion
        p = ours.engine.params
        assert p is not None
        assert (p.modem, p.bit_rate, p.ecm, p.encoding) == (modem, RATE[modem], ecm, encoding)
        assert ours.engine.remote_id.startswith("SPANDSP")
        if direction == "to-spandsp":
            assert peer.stats().pages_rx == count
            got = [tiff_bitmap(tmp_path / "rx.tif", n) for n in range(count)]
        else:
            got = [decode(page) for page in _received(ours)]
        assert len(got) == count
        assert all(_same(g, decode(s)) for g, s in zip(got, pages, strict=True))
    finally:
        peer.close()


# --- ours against ours ------------------------------------------------------------------------------


@pytest.mark.parametrize(("ecm", "encoding", "version"), [(False, "mr", 0), (True, "mmr", 0),
                                                          (True, "mh", 2)])
def test_ours_against_ours(ecm: bool, encoding: str, version: int) -> None:
    pages = _pages(encoding, 3, 200)
    tx, rx = _sender(pages, "v17", ecm), _receiver("v17", ecm)
    t = run_ours(tx, rx, version=version)
    assert tx.finished and rx.finished and t < 120
    assert tx.result is not None and tx.result.cause is HangupCause.OK, tx.result
    assert rx.result is not None and rx.result.cause is HangupCause.OK, rx.result
    got = _received(rx)
    assert len(got) == 3 and all(_same(decode(g), decode(s)) for g, s in zip(got, pages, strict=True))


# --- losses and silence ---------------------------------------------------------------------------


def _image_dropper(positions: set[int]) -> tuple[list[int], object]:
    """Drops the image-data IFPs (high-speed HDLC data) at ``positions`` (1-based, counted
    among image-data IFPs only)."""
    seen = [0]

    def drop(_index: int, data: bytes) -> bool:
        ifp = decode_ifp(data)
        if isinstance(ifp, IfpData) and ifp.data_type is not DataType.V21 and any(
                f.type is FieldType.HDLC_DATA for f in ifp.fields):
            seen[0] += 1
            return seen[0] in positions
        return False

    return seen, drop


@needs_spandsp
@pytest.mark.parametrize("direction", ["to-spandsp", "from-spandsp"])
def test_ecm_survives_lost_ifps(tmp_path: Path, direction: str) -> None:
    pages = _pages("mh", 1)
    seen, drop = _image_dropper({5, 6, 20, 41})
    if direction == "to-spandsp":
        ours = _sender(pages)
        peer = SpandspTerminal(False, ecm=True, rx_file=tmp_path / "rx.tif")
        run_with_spandsp(ours, peer, drop_to_peer=drop)  # type: ignore[arg-type]
    else:
        (tmp_path / "tx.tif").write_bytes(multipage_tiff(pages))
        ours = _receiver()
        peer = SpandspTerminal(True, ecm=True, tx_file=tmp_path / "tx.tif")
        run_with_spandsp(ours, peer, drop_to_us=drop)  # type: ignore[arg-type]
    try:
        assert seen[0] > 41
        assert ours.result is not None and ours.result.cause is HangupCause.OK, ours.result
        assert peer.phase_e == 0, peer.completion
        if direction == "to-spandsp":
            notes = ours.engine.take_progress()
            assert any(n.kind is ProgressKind.PAGE_RETRY for n in notes)  # PPR, then resent
            got = tiff_bitmap(tmp_path / "rx.tif")
        else:
            assert peer.stats().error_correcting_mode_retries >= 1, "no PPR from us"
            (page,) = _received(ours)
            got = decode(page)
        assert _same(got, decode(pages[0]))
    finally:
        peer.close()


def _muter(after_page_ifps: int) -> object:
    """Loses everything in one direction once that many data IFPs of the first page
    went by (the page is the high-speed data after TCF's T4_NON_ECM_SIG_END)."""
    tcf_done = [False]
    page_ifps = [0]

    def drop(_index: int, data: bytes) -> bool:
        ifp = decode_ifp(data)
        if isinstance(ifp, IfpData) and ifp.data_type is not DataType.V21:
            if tcf_done[0]:
                page_ifps[0] += 1
            tcf_done[0] = tcf_done[0] or any(f.type is FieldType.T4_NON_ECM_SIG_END for f in ifp.fields)
        return page_ifps[0] >= after_page_ifps

    return drop


@needs_spandsp
@pytest.mark.parametrize("ecm", [False, True], ids=["noecm", "ecm"])
def test_far_end_silent_mid_page_while_we_receive(tmp_path: Path, ecm: bool) -> None:
    pages = _pages("mh", 1)
    (tmp_path / "tx.tif").write_bytes(multipage_tiff(pages))
    ours = _receiver(ecm=ecm)
    peer = SpandspTerminal(True, ecm=ecm, tx_file=tmp_path / "tx.tif")
    try:
        t = run_with_spandsp(ours, peer, drop_to_us=_muter(30),  # type: ignore[arg-type]
                             stop_when_ours_done=True)
        assert ours.finished
        assert ours.result is not None, "hung"
        # the engine's verdict (it names a silent far end mid non-ECM page a protocol error)
        assert ours.result.cause in (HangupCause.LINE_DROPPED, HangupCause.PROTOCOL_ERROR)
        assert "nothing from the far end" in ours.result.message, ours.result
        assert t < 60  # page start ~10 s, then T2 of silence inside the page, then T2 waits
    finally:
        peer.close()


@needs_spandsp
@pytest.mark.parametrize("ecm", [False, True], ids=["noecm", "ecm"])
def test_far_end_silent_mid_page_while_we_send(tmp_path: Path, ecm: bool) -> None:
    pages = _pages("mh", 1)
    ours = _sender(pages, ecm=ecm)
    peer = SpandspTerminal(False, ecm=ecm, rx_file=tmp_path / "rx.tif")
    try:
        # the far end hears our page start, then nothing: it never answers the page
        t = run_with_spandsp(ours, peer, drop_to_peer=_muter(30),  # type: ignore[arg-type]
                             stop_when_ours_done=True)
        assert ours.finished
        assert ours.result is not None and ours.result.cause is HangupCause.PROTOCOL_ERROR, ours.result
        assert ours.result.message == f"no response to {'PPS' if ecm else 'EOP'} after 3 tries"
        assert t < 60
    finally:
        peer.close()


def test_silent_far_end_before_dis_ends_within_t1() -> None:
    ours = _sender(_pages("mh", 1))
    ours.start(0.0)
    t = 0.0
    while not ours.finished and t < 100:
        t = round(t + 0.02, 6)
        ours.poll(t)
    assert ours.result is not None and ours.result.cause is HangupCause.NO_CARRIER
    assert 35 <= t < 36


# --- what goes on the wire -----------------------------------------------------------------------


def test_indicators_repeated_and_image_paced() -> None:
    pages = _pages("mh", 1)
    tx, rx = _sender(pages, ecm=False), _receiver(ecm=False)
    tx.start(0.0)
    rx.start(0.0)
    seen: list[tuple[float, object]] = []
    t = 0.0
    while not (tx.finished and rx.finished) and t < 100:
        t = round(t + 0.01, 6)
        for ifp in tx.poll(t):
            seen.append((t, ifp))
            rx.receive(ifp, t)
        for ifp in rx.poll(t):
            tx.receive(ifp, t)
    assert [i for _, i in seen[:3]] == [IfpIndicator(Indicator.CNG)] * 3
    trainings = [k for k, (_, i) in enumerate(seen) if i == IfpIndicator(Indicator.V17_14400_LONG_TRAINING)]
    assert len(trainings) >= 3 and trainings[1] == trainings[0] + 1  # three copies
    page = [(at, i) for at, i in seen if isinstance(i, IfpData) and i.data_type is DataType.V17_14400
            and any(f.type is FieldType.T4_NON_ECM_DATA for f in i.fields)]
    sizes = [sum(len(f.data) for f in i.fields) for _, i in page]
    # the page after TCF: 54 octets (14400 bit/s x 30 ms) every 30 ms (spandsp's pacing)
    page_start = next(k for k in range(1, len(page)) if page[k][0] - page[k - 1][0] > 0.1)
    body = page[page_start:]
    assert set(sizes[page_start:-1]) == {54}
    gaps = {round(b[0] - a[0], 3) for a, b in itertools.pairwise(body)}
    assert gaps == {0.03}
    octets = sum(sizes[page_start:])
    assert abs((body[-1][0] - body[0][0]) - octets * 8 / 14400) < 0.05


def test_next_deadline_and_poll() -> None:
    term = _receiver()
    assert term.next_deadline() is None
    term.start(10.0)
    assert term.poll(10.0) == [IfpIndicator(Indicator.CED)] * 3
    deadline = term.next_deadline()
    assert deadline is not None and abs(deadline - 13.0) < 1e-6
    assert term.poll(12.9) == []
    assert term.poll(13.0) == [IfpIndicator(Indicator.NO_SIGNAL)] * 3
    assert term.poll(13.1) == [IfpIndicator(Indicator.V21_PREAMBLE)] * 3


def test_one_page_v17_ecm_call_time() -> None:
    """The figure asked for: simulated call time and wall time of a 1-page V.17 ECM call
    against spandsp (printed with -s)."""
    pytest.importorskip("ctypes")
    from modem.sim.spandsp import spandsp_available

    if not spandsp_available():
        pytest.skip("libspandsp2 not installed")
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        pages = _pages("mh", 1)
        ours = _sender(pages)
        peer = SpandspTerminal(False, ecm=True, rx_file=Path(d) / "rx.tif")
        wall = time.perf_counter()
        sim = run_with_spandsp(ours, peer)
        wall = time.perf_counter() - wall
        peer.close()
    assert ours.result is not None and ours.result.cause is HangupCause.OK
    print(f"1-page V.17 ECM call: {sim:.2f} s simulated, {wall:.3f} s wall")
    assert 8 < sim < 40


@needs_spandsp
@pytest.mark.parametrize("direction", ["to-spandsp", "from-spandsp"])
def test_later_t38_version_against_spandsp(tmp_path: Path, direction: str) -> None:
    """T38FaxVersion 2 (the later ASN.1 form) on both sides, ECM."""
    pages = _pages("mr", 2, 150)
    if direction == "to-spandsp":
        ours = _sender(pages)
        peer = SpandspTerminal(False, ecm=True, version=2, rx_file=tmp_path / "rx.tif")
    else:
        (tmp_path / "tx.tif").write_bytes(multipage_tiff(pages))
        ours = _receiver(encodings=("mh", "mr"))
        peer = SpandspTerminal(True, ecm=True, version=2, tx_file=tmp_path / "tx.tif",
                               compressions=("mh", "mr"))
    try:
        run_with_spandsp(ours, peer)
        assert ours.result is not None and ours.result.cause is HangupCause.OK, ours.result
        assert peer.phase_e == 0, peer.completion
        if direction == "to-spandsp":
            got = [tiff_bitmap(tmp_path / "rx.tif", n) for n in range(2)]
        else:
            got = [decode(page) for page in _received(ours)]
        assert all(_same(g, decode(s)) for g, s in zip(got, pages, strict=True))
    finally:
        peer.close()


def test_hang_up_mid_call() -> None:
    """A BYE (or lost media) in the middle: the engine hears the line is gone."""
    tx, rx = _sender(_pages("mh", 1)), _receiver()
    tx.start(0.0)
    rx.start(0.0)
    t = 0.0
    while t < 9.0:
        t = round(t + 0.02, 6)
        for src, dst in ((tx, rx), (rx, tx)):
            for ifp in src.poll(t):
                dst.receive(ifp, t)
    tx.hang_up(t, "BYE")
    assert tx.finished and tx.poll(t + 1) == [] and tx.next_deadline() is None
    assert tx.result is not None and tx.result.cause is HangupCause.LINE_DROPPED
    assert "BYE" in tx.result.message


def test_engine_frame_log_is_the_t30_exchange_seen_from_each_end() -> None:
    """Each engine's ``frame_log`` (what it sent and was given) mirrors the other's: every
    frame one sent, the other received, in the same order."""
    tx, rx = _sender(_pages("mmr", 1, 100), "v17", True), _receiver("v17", True)
    run_ours(tx, rx)
    assert tx.result is not None and tx.result.cause is HangupCause.OK, tx.result
    sent = [name for way, name in tx.engine.frame_log if way == "tx"]
    assert sent[:2] == ["TSI", "DCS"] and sent[-1] == "DCN" and "PPS" in sent, tx.engine.frame_log
    assert [n for w, n in rx.engine.frame_log if w == "rx"] == sent
    assert [n for w, n in rx.engine.frame_log if w == "tx"] == [
        n for w, n in tx.engine.frame_log if w == "rx"]
    assert tx.engine.frame_log[:2] == [("rx", "CSI"), ("rx", "DIS")], tx.engine.frame_log


def test_hang_up_during_our_ced() -> None:
    """Gone before the called side's CED tone is over (its engine not started yet): the
    engine still hears of it, so the call has a cause and a reason."""
    rx = _receiver()
    rx.start(0.0)
    rx.poll(0.5)
    rx.hang_up(0.5, "the far end hung up")
    assert rx.finished and rx.poll(1.0) == []
    assert rx.result is not None and rx.result.cause is HangupCause.LINE_DROPPED
    assert "the far end hung up" in rx.result.message
