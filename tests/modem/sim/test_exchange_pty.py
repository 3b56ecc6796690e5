"""Call set-up and faults over real ptys, through pyserial, as a DTE sees them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from modem.sim import SimExchange, build_exchange, default_network, parse_sim_port
from modem.sim.network import DEFAULT_SUBSCRIBERS, SimPortError
from tests.modem.sim.conftest import ATPort, needs_spandsp


@pytest.fixture
def exchange() -> Iterator[SimExchange]:
    ex = build_exchange(speed=50)
    yield ex
    ex.close()


def open_line(ports: list[ATPort], device: str) -> ATPort:
    p = ATPort(device)
    ports.append(p)
    assert p.cmd("ATE0")[-1] == "OK"
    assert p.cmd("AT+FCLASS=1")[-1] == "OK"
    return p


def test_pty_behaves_like_a_modem(exchange: SimExchange, at_ports: list[ATPort]) -> None:
    line = exchange.add_line("+15550100", "line1")
    assert line.device.startswith("/dev/pts/")
    p = ATPort(line.device)
    at_ports.append(p)
    assert p.cmd("AT") == ["AT", "OK"]  # echo on by default
    assert p.cmd("ATE0") == ["ATE0", "OK"]
    assert p.cmd("AT+FCLASS=?") == ["0,1,1.0", "OK"]
    assert p.cmd("AT+FCLASS=1") == ["OK"]
    assert p.cmd("AT+FTM=?") == ["24,48,72,73,74,96,97,98,121,122,145,146", "OK"]
    assert p.cmd("AT+FMI?") == ["umfax", "OK"]


def test_busy_no_answer_no_dialtone_unknown(exchange: SimExchange,
                                            at_ports: list[ATPort]) -> None:
    line = exchange.add_line("+15550100", "line1")
    exchange.add_remote("+15550111", "busy")
    exchange.add_remote("+15550112", "no_answer")
    p = open_line(at_ports, line.device)
    assert p.cmd("ATD15550111", timeout=30) == ["BUSY"]
    assert p.cmd("ATS7=30") == ["OK"]
    t0 = exchange.clock.now()
    assert p.cmd("ATD15550112", timeout=30) == ["NO ANSWER"]
    assert exchange.clock.now() - t0 >= 30  # S7 ran out, in simulated seconds
    assert p.cmd("ATD15559999", timeout=30) == ["NO CARRIER"]  # not a number
    line.faults.no_dialtone = True
    assert p.cmd("ATD15550111", timeout=30) == ["NO DIALTONE"]
    line.faults.no_dialtone = False
    outcomes = [(c.dialed, c.reason or c.state) for c in exchange.calls]
    assert ("15550111", "busy") in outcomes
    assert ("15550112", "hangup") in outcomes


def test_local_line_rings_with_caller_id_and_busy_when_in_use(
    exchange: SimExchange, at_ports: list[ATPort]
) -> None:
    a = exchange.add_line("+15550100", "line1")
    b = exchange.add_line("+15550101", "line2")
    c = exchange.add_line("+15550102", "line3")
    pa = open_line(at_ports, a.device)
    pb = open_line(at_ports, b.device)
    pc = open_line(at_ports, c.device)
    pa.write(b"ATD5550101\r")
    lines = pb.until(("NDID = +15550101",), timeout=30)
    assert lines == ["RING", "NMBR = +15550100", "NAME = line1", "NDID = +15550101"]
    # line2 is ringing: a third caller gets BUSY
    assert pc.cmd("ATD15550101", timeout=30) == ["BUSY"]
    # (more RINGs may come first: at speed 50 they are 0.12 s apart)
    assert [x for x in pb.cmd("ATA", timeout=30) if x != "RING"] == ["CONNECT"]
    assert pa.until(("CONNECT",), timeout=30) == ["CONNECT"]  # caller hears them
    # answerer sends a final frame; the caller receives it with its FCS
    frame = bytes([0xFF, 0x13, 0x80, 0x00, 0x46])
    pb.write(frame + b"\x10\x03")
    assert pb.until(("OK",), timeout=30) == ["OK"]
    deadline = time.monotonic() + 5
    got = bytearray()
    while b"\x10\x03" not in got and time.monotonic() < deadline:
        got.extend(pa.ser.read(64))
    assert got.startswith(frame)
    assert len(got.split(b"\x10\x03")[0]) == len(frame) + 2  # + FCS
    assert pb.cmd("ATH") == ["OK"]
    call = next(c for c in exchange.calls if c.caller is a)
    assert call.done.wait(5)
    assert call.cleared_by == "line2"
    assert call.frames(b) == [0x80]


def test_unresponsive_modem_and_garbage(exchange: SimExchange, at_ports: list[ATPort]) -> None:
    line = exchange.add_line("+15550100", "line1")
    p = open_line(at_ports, line.device)
    line.faults.unresponsive = True
    with pytest.raises(TimeoutError):
        p.cmd("AT", timeout=0.5)
    line.faults.unresponsive = False
    assert p.cmd("AT") == ["OK"]
    line.inject_garbage(b"\x00\xfe\x7f~~ NO CARRIER? \x13")
    time.sleep(0.2)
    junk = p.ser.read(100)
    assert junk.startswith(b"\x00\xfe\x7f~~")
    assert p.cmd("AT") == ["OK"]


def test_default_network_and_sim_ports() -> None:
    net = default_network(speed=50)
    try:
        assert [s.number for s in DEFAULT_SUBSCRIBERS] == [
            "+15550100", "+15550101", "+15550110", "+15550111", "+15550112", "+15550113",
        ]
        m1 = net.modem_for_port("sim:line1")
        assert net.modem_for_port("sim:+15550100") is m1
        assert net.modem_for_port("sim:1 555 0100") is m1
        assert net.device_for_port("sim:line2") == net.modem_for_port("sim:+15550101").device
        assert parse_sim_port("sim:line2") == "line2"
        with pytest.raises(SimPortError):
            net.modem_for_port("sim:+15550110")  # a remote machine, not a local line
        with pytest.raises(SimPortError):
            parse_sim_port("/dev/ttyS0")
        kinds = {ep.number: ep.kind for ep in net.exchange.endpoints}
        assert kinds["+15550111"] == "busy"
        assert kinds["+15550112"] == "no_answer"
    finally:
        net.close()


@needs_spandsp
def test_default_network_remote_kinds() -> None:
    net = default_network(speed=50)
    try:
        kinds = {ep.number: ep.kind for ep in net.exchange.endpoints}
        assert kinds["+15550110"] == "receiver"
        assert kinds["+15550113"] == "drop_mid_page"
        assert net.endpoint("dropper") is not None
        assert net.endpoint("dropper").faults.drop_after_page_bytes  # type: ignore[union-attr]
    finally:
        net.close()
