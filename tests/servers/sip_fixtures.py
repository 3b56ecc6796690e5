"""Fixtures for the real SIP/T.38 peers (registered as a plugin by the root conftest):
kamailio, rtpengine, loopback captures, SIPp, spandsp fax machines on G.711 or T.38, and
baresip as a voice caller (with espeak-ng and sox for its speech).

A peer that is not installed makes its tests skip, with a reason saying what to install.
When a test fails, the logs of the kamailio and rtpengine it started, and the path of its
capture, are added to the failure report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.servers.baresip import BaresipCaller, baresip_binary
from tests.servers.kamailio import KamailioServer, kamailio_binary
from tests.servers.rtpengine import RtpengineServer, rtpengine_binary
from tests.servers.sipp import sipp_binary
from tests.servers.speech import espeak_binary, sox_binary
from tests.servers.tshark import CaptureError, LoopbackCapture, dumpcap_binary, tshark_binary

_REPORTED = pytest.StashKey[list[Any]]()


class _Logged(Protocol):
    def log_text(self) -> str: ...


def require_kamailio() -> None:
    if kamailio_binary() is None:
        pytest.skip("kamailio is not installed (apt-get install kamailio; scripts/test does it)")


def require_rtpengine() -> None:
    if rtpengine_binary() is None:
        pytest.skip("rtpengine is not installed (apt-get install rtpengine-daemon; scripts/test does it)")


def require_sipp() -> None:
    if sipp_binary() is None:
        pytest.skip("sipp is not installed (apt-get install sip-tester; scripts/test does it)")


def require_tshark() -> None:
    if dumpcap_binary() is None or tshark_binary() is None:
        pytest.skip("dumpcap/tshark are not installed (apt-get install tshark; scripts/test does it)")


def require_baresip() -> None:
    if baresip_binary() is None:
        pytest.skip("baresip is not installed (apt-get install baresip; scripts/test does it)")


def require_speech_tools() -> None:
    if espeak_binary() is None or sox_binary() is None:
        pytest.skip("espeak-ng/sox are not installed (apt-get install espeak-ng sox; scripts/test does it)")


def require_spandsp() -> None:
    from modem.sim.spandsp_lib import spandsp_available

    if not spandsp_available():
        pytest.skip("libspandsp2 is not installed (apt-get install libspandsp2; scripts/test does it)")


def _report_on_failure(request: pytest.FixtureRequest, thing: object) -> None:
    request.node.stash.setdefault(_REPORTED, []).append(thing)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked ``long_call`` (real-time calls beyond the representative set, on SIP
    peers or the simulated network) run only when ``-m`` names ``long_call``."""
    if item.get_closest_marker("long_call") and "long_call" not in (item.config.option.markexpr or ""):
        pytest.skip("a long real-time call: run with -m long_call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for thing in item.stash.get(_REPORTED, []):
        if isinstance(thing, LoopbackCapture):
            report.sections.append(("loopback capture", f"{thing.file}\n{thing.messages}"))
        else:
            logged: _Logged = thing
            report.sections.append((f"{type(thing).__name__} log", logged.log_text()[-30000:]))


@pytest.fixture
def kamailio(request: pytest.FixtureRequest) -> Iterator[Callable[..., KamailioServer]]:
    """A factory: ``kamailio(users, next_hop=(host, port), realm=..., algorithm=...,
    nonce_expire=...)`` starts a :class:`KamailioServer`; all are stopped at the end."""
    require_kamailio()
    started: list[KamailioServer] = []

    def start(users: Mapping[str, str], **options: Any) -> KamailioServer:
        server = KamailioServer(users, **options)
        started.append(server)
        server.start()
        _report_on_failure(request, server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def rtpengine(request: pytest.FixtureRequest) -> Iterator[RtpengineServer]:
    """A running :class:`RtpengineServer` of the test's own (it starts in ~0.1 s)."""
    require_rtpengine()
    with RtpengineServer() as server:
        _report_on_failure(request, server)
        yield server


@pytest.fixture
def baresip(request: pytest.FixtureRequest) -> Iterator[Callable[..., BaresipCaller]]:
    """A factory: ``baresip(wav, user=..., password=..., proxy=(host, port))`` starts a
    :class:`BaresipCaller` playing ``wav`` into its calls; all are stopped at the end."""
    require_baresip()
    started: list[BaresipCaller] = []

    def start(wav: Path, **options: Any) -> BaresipCaller:
        caller = BaresipCaller(wav, **options)
        started.append(caller)
        caller.start()
        _report_on_failure(request, caller)
        return caller

    yield start
    for caller in started:
        caller.close()


@pytest.fixture
def loopback_capture(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., LoopbackCapture]]:
    """A factory: ``loopback_capture(filter, name="capture")`` starts a
    :class:`LoopbackCapture` into ``tmp_path/<name>.pcapng`` and returns once it really
    captures; ``.stop()`` it before analysing (all are stopped at the end)."""
    require_tshark()
    started: list[LoopbackCapture] = []

    def start(capture_filter: str, name: str = "capture") -> LoopbackCapture:
        capture = LoopbackCapture(tmp_path / f"{name}.pcapng", capture_filter)
        try:
            capture.start()
        except CaptureError as exc:
            if os.geteuid() != 0 and "ermission" in str(exc):
                pytest.skip(f"dumpcap may not capture on lo as this user: {exc}")
            raise
        started.append(capture)
        _report_on_failure(request, capture)
        return capture

    yield start
    for capture in started:
        capture.stop()
