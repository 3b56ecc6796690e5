"""bench/lines.py's wiring: the simulated network in a process of its own, its hunt
groups of spandsp receivers, and the server whose lines open that network's ptys.

Job numbers (+1 212 555 0200... for ECM receivers, +1 212 555 2000... for receivers
without ECM) each reach a hunt group: the bench wraps the exchange's ``place_call`` so
each dial goes to a free receiver of the group its number belongs to.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from modem.sim import Call, Endpoint, SimExchange, SimModem, build_exchange
from modem.sim.line import CarrierRecord
from umfax.config import Config, parse_config
from umfax.lines.drivers import SimulatedPorts
from umfax.service import Server
from umfax.store import Store

LINE_BASE = 100  # our lines: +1 212 555 0100...
DEST_BASE = 200  # job numbers reaching ECM receivers: +1 212 555 0200...
PLAIN_DEST_BASE = 2000  # job numbers reaching receivers without ECM: +1 212 555 2000...
RECEIVER_BASE = 900  # the ECM hunt group's own numbers: +1 212 555 0900...
PLAIN_RECEIVER_BASE = 950  # the non-ECM hunt group's own numbers: +1 212 555 0950...
IDENT = "+1 212 555 0900"


def number(n: int) -> str:
    return f"+1212555{n:04d}"


@dataclass
class CallTimes:
    """Wall-clock stamps of one call (for the real-time projection)."""

    placed: float
    cleared: float | None = None


@dataclass
class CallRecord:
    """What the figures need of one ``Call``, in plain data (it crosses processes)."""

    id: int
    caller: str  # the calling endpoint's name
    from_line: bool  # the caller is one of our lines (a SimModem)
    started: float
    ended: float | None
    state: str
    carriers: list[CarrierRecord]
    dialled: str = ""  # the digits the caller dialled (before the hunt group)

    @classmethod
    def of(cls, call: Call, dialled: str = "") -> CallRecord:
        return cls(
            call.id,
            call.caller.name,
            isinstance(call.caller, SimModem),
            call.started,
            call.ended,
            call.state,
            list(call.carriers),
            dialled,
        )


@dataclass
class Group:
    """Job numbers and the receivers that answer them."""

    targets: set[str]  # digits of the job numbers, without the +
    receivers: list[Endpoint]


class HuntGroup:
    """Sends every dial of a job number to a free receiver of its group (least used first).

    Wraps ``SimExchange.place_call`` under one lock, so two lines dialling at once never
    pick the same receiver (the exchange's own busy check is not atomic across threads).
    """

    def __init__(self, exchange: SimExchange, groups: list[Group]) -> None:
        self.exchange = exchange
        self.groups = groups
        self.lock = threading.Lock()
        self.wall: dict[int, CallTimes] = {}
        self.dialled: dict[int, str] = {}  # call id -> the digits the line dialled
        self.no_receiver = 0
        self._original = exchange.place_call
        self._used: dict[str, int] = defaultdict(int)
        exchange.place_call = self.place_call  # type: ignore[method-assign]
        exchange.on_call_end.append(self._ended)

    def _group(self, digits: str) -> Group | None:
        if len(digits) < 10:
            return None
        for group in self.groups:
            if any(t.endswith(digits) or digits.endswith(t) for t in group.targets):
                return group
        return None

    def place_call(self, caller: Endpoint, dialed: str, data: bool = False) -> Call | str:
        digits = "".join(ch for ch in dialed if ch.isdigit())
        with self.lock:
            group = self._group(digits)
            if group is not None:
                free = [r for r in group.receivers if r.call is None]
                if not free:
                    self.no_receiver += 1
                else:
                    pick = min(free, key=lambda r: self._used[r.name])
                    self._used[pick.name] += 1
                    dialed = pick.number
            result = self._original(caller, dialed, data)
            if isinstance(result, Call):
                self.wall[result.id] = CallTimes(time.monotonic())
                self.dialled[result.id] = digits
            return result

    def _ended(self, call: Call) -> None:
        times = self.wall.get(call.id)
        if times is not None:
            times.cleared = time.monotonic()


def run_network(conn: Connection, lines: int, receivers: int, jobs: int, plain_jobs: int,
                speed: float) -> None:
    """The simulated network, in a process of its own (see bench/lines.py's doc).

    ``receivers`` ECM receivers answer the ``jobs`` ECM job numbers, and as many without
    ECM the ``plain_jobs`` others (none when there are none).  Sends ``{number: pty}`` for
    the lines, then on ``"finish"`` the call records and the hunt groups' figures; closes
    the network on ``"close"``.
    """
    logging.basicConfig(level=logging.CRITICAL)
    with build_exchange(speed=speed) as exchange:
        devices = {
            number(LINE_BASE + n): exchange.add_line(number(LINE_BASE + n), f"line{n + 1}").device
            for n in range(lines)
        }
        pool = [
            exchange.add_remote(number(RECEIVER_BASE + n), "receiver", f"rx{n + 1}", ecm=True, ident=IDENT)
            for n in range(receivers)
        ]
        groups = [Group({number(DEST_BASE + n)[1:] for n in range(jobs)}, pool)]
        if plain_jobs:
            plain = [
                exchange.add_remote(number(PLAIN_RECEIVER_BASE + n), "receiver", f"plain{n + 1}",
                                    ecm=False, ident=IDENT)
                for n in range(receivers)
            ]
            groups.append(Group({number(PLAIN_DEST_BASE + n)[1:] for n in range(plain_jobs)}, plain))
        hunt = HuntGroup(exchange, groups)
        conn.send(devices)
        conn.recv()  # "finish"
        exchange.wait_idle(30)
        records = [CallRecord.of(c, hunt.dialled.get(c.id, "")) for c in list(exchange.calls)]
        conn.send((records, dict(hunt.wall), hunt.no_receiver))
        conn.recv()  # "close"


class NetworkProcess:
    """The server's view of the simulated network in the other process: a ``SimulatedPorts``."""

    def __init__(self, lines: int, receivers: int, jobs: int, plain_jobs: int, speed: float) -> None:
        self.speed = speed
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=run_network, args=(child, lines, receivers, jobs, plain_jobs, speed),
            name="sim-network", daemon=True,
        )
        self._proc.start()
        self.devices: dict[str, str] = self._conn.recv()

    def device_for(self, port: str) -> str:
        return self.devices[port.removeprefix("sim:")]

    def finish(self) -> tuple[list[CallRecord], dict[int, CallTimes], int]:
        self._conn.send("finish")
        result: tuple[list[CallRecord], dict[int, CallTimes], int] = self._conn.recv()
        return result

    def close(self) -> None:
        if self._proc.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send("close")
            self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()


class BenchServer(Server):
    """The real server; its lines open the ptys of the network process."""

    def __init__(self, config: Config, store: Store, network: NetworkProcess) -> None:
        super().__init__(config, store)
        self.network = network

    def _sim_network(self) -> SimulatedPorts:
        return self.network


def bench_config(data_dir: Path, lines: int, speed: float) -> Config:
    return parse_config(
        {
            "server": {"data_dir": str(data_dir), "node_name": "bench", "log_level": "warning"},
            "fax": {"cover": False, "station_id": "+1 212 555 0100"},
            "queue": {"lease": "10m"},
            "simulator": {"speed": speed, "remotes": []},
            "api": {"enabled": False},
            "lines": [
                {
                    "name": f"line{n + 1}",
                    "port": f"sim:{number(LINE_BASE + n)}",
                    "number": number(LINE_BASE + n),
                    "receive": False,
                    "probe_interval": "1d",
                }
                for n in range(lines)
            ],
        }
    )



__all__ = [
    "DEST_BASE",
    "IDENT",
    "LINE_BASE",
    "PLAIN_DEST_BASE",
    "PLAIN_RECEIVER_BASE",
    "RECEIVER_BASE",
    "BenchServer",
    "CallRecord",
    "CallTimes",
    "HuntGroup",
    "NetworkProcess",
    "bench_config",
    "number",
]
