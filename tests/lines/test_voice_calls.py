"""The line worker and voice callers, on a real store: a line that listens for voice
answers with the routed voice rule and greeting, and what the call left is stored,
routed and delivered through the outbox like a fax.  The line is a small driver double
that returns the call result a SIP channel would (the store stays real)."""

from __future__ import annotations

import io
import threading
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from modem.api import (
    CallResult,
    HangupCause,
    IncomingCall,
    LineStatus,
    PageImage,
    PageSink,
    ProgressCallback,
    ReceiveOptions,
    SendOptions,
    VoiceOutcome,
)
from tests.core.test_voice_config import tone_wav
from umfax.config import Config, LineConfig, parse_config
from umfax.lines.voice import SILENT
from umfax.lines.worker import LineWorker
from umfax.states import InboundState
from umfax.store import Store
from umfax.store.models import Inbound, Outbox
from umfax.voice import default_greeting, load_wav

CALLER = "+16465550100"


class VoiceLine:
    """A line that rings once with ``call`` and answers it with ``result``."""

    def __init__(self, call: IncomingCall, result: CallResult) -> None:
        self.call: IncomingCall | None = call
        self.result = result
        self.options: ReceiveOptions | None = None
        self.answered = threading.Event()

    def probe(self) -> LineStatus:
        return LineStatus(ok=True, detail="test line")

    def send(
        self, dial_string: str, pages: list[PageImage], options: SendOptions, progress: ProgressCallback
    ) -> CallResult:
        raise AssertionError("this line only receives")

    def wait_for_call(self, timeout: float) -> IncomingCall | None:
        call, self.call = self.call, None
        if call is None:
            threading.Event().wait(min(timeout, 0.05))
        return call

    def receive(
        self, call: IncomingCall, options: ReceiveOptions, on_page: PageSink, progress: ProgressCallback
    ) -> CallResult:
        self.options = options
        return self.result

    def decline(self, call: IncomingCall, reason: str) -> None:
        raise AssertionError("nothing here is junk")

    def close(self) -> None:
        self.answered.set()


def make_config(tmp_path: Path, listen: bool = True, **changes: Any) -> Config:
    return parse_config(
        {
            "server": {"data_dir": str(tmp_path / "data")},
            "queue": {"poll_interval": "0.05s"},
            "users": [
                {"name": "ann", "email": "ann@example.com", "fax_numbers": ["+12125550150"]},
                {"name": "bob", "email": "bob@example.com", "fax_numbers": ["+12125550151"]},
            ],
            "trunks": [
                {
                    "name": "carrier",
                    "proxy": "sip.example.net",
                    "channels": 1,
                    "send": False,
                    "listen_for_voice": listen,
                    "dids": ["+12125550150"],
                }
            ],
        }
        | changes
    )


def run_call(
    store: Store, config: Config, result: CallResult, called: str = "+12125550150"
) -> tuple[VoiceLine, Inbound]:
    """One call on the trunk's line, through the real worker; the stored row."""
    line: LineConfig = config.lines[0]
    driver = VoiceLine(IncomingCall(caller_number=CALLER, called_number=called), result)
    stop = threading.Event()
    woken = threading.Event()
    worker = LineWorker(line, config, store, lambda _line: driver, "test/", stop, on_inbound=woken.set)
    worker.start()
    try:
        for _ in range(400):
            rows = store.list_inbound()
            if rows and rows[0].state != InboundState.RECEIVING:
                break
            stop.wait(0.025)
    finally:
        stop.set()
        worker.join(timeout=10)
    [row] = store.list_inbound()
    if row.kind == "voice":  # the dispatcher is woken exactly when a message is owed to someone
        assert woken.is_set() == bool(notices(store))
    return driver, row


def notices(store: Store) -> list[tuple[str, str, str]]:
    with store.reading() as session:
        return [(o.origin, o.channel, o.target) for o in session.scalars(select(Outbox))]


def speech(seconds: float = 2.0) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (
        np.round(8000 * np.sin(2 * np.pi * 300 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype("<i2").tobytes()
    )


def voice_result(
    pcm: bytes = b"", ended_by: str = "hangup", action: str = "voicemail", detail: str = ""
) -> CallResult:
    outcome = VoiceOutcome(action=action, pcm=pcm, seconds=len(pcm) / 16000, ended_by=ended_by, detail=detail)  # type: ignore[arg-type]
    return CallResult(cause=HangupCause.VOICE, transport="g711", voice=outcome)


def test_a_voice_message_is_stored_as_wav_and_delivered_to_the_routed_user(
    store: Store, tmp_path: Path
) -> None:
    pcm = speech(2.5)
    driver, row = run_call(store, make_config(tmp_path), voice_result(pcm))
    assert driver.options is not None and driver.options.voice is not None
    voice = driver.options.voice
    assert (voice.action, voice.forward_to, voice.greeting) == ("voicemail", "", default_greeting())
    assert (voice.listen_seconds, voice.max_seconds, voice.silence_seconds) == (6.0, 120.0, 5.0)
    assert (row.kind, row.state, row.result, row.transport, row.pages) == (
        "voice",
        "received",
        "ok",
        "g711",
        0,
    )
    assert row.caller_number == CALLER and row.message == "ended by hangup"
    audio = store.inbound_audio(row.id)
    assert audio is not None and audio.seconds == pytest.approx(2.5)
    with wave.open(io.BytesIO(audio.wav)) as reader:
        assert (reader.getframerate(), reader.getsampwidth(), reader.getnchannels()) == (8000, 2, 1)
        assert reader.readframes(reader.getnframes()) == pcm
    assert notices(store) == [(f"inbound:{row.id}", "inbound", "ann")]  # ann's DID


def test_a_line_that_does_not_listen_for_voice_answers_every_call_as_fax(
    store: Store, tmp_path: Path
) -> None:
    driver, row = run_call(
        store, make_config(tmp_path, listen=False), CallResult(cause=HangupCause.NO_CARRIER, message="no fax")
    )
    assert driver.options is not None and driver.options.voice is None
    assert (row.kind, row.state, row.result) == ("fax", "failed", "no_carrier")
    assert store.inbound_audio(row.id) is None


def test_route_and_user_rules_and_greetings_reach_the_line(store: Store, tmp_path: Path) -> None:
    greeting = tone_wav(tmp_path / "bob.wav", rate=16000, channels=1)
    users = [
        {"name": "ann", "email": "ann@example.com", "fax_numbers": ["+12125550150"]},
        {"name": "bob", "email": "bob@example.com", "voice": "reject", "greeting": str(greeting)},
    ]
    config = make_config(
        tmp_path,
        users=users,
        voice={"listen_seconds": "3s", "max_message_seconds": 30, "silence_seconds": 2},
        routing={
            "routes": [{"caller": "+1646*", "users": ["bob"], "voice": "forward:sip:desk@pbx.example.com"}]
        },
    )
    forwarded = voice_result(ended_by="forwarded", action="forward", detail="to sip:desk@pbx.example.com")
    driver, row = run_call(store, config, forwarded)
    assert driver.options is not None and driver.options.voice is not None
    voice = driver.options.voice
    assert (voice.action, voice.forward_to) == ("forward", "sip:desk@pbx.example.com")  # the route's rule
    assert voice.greeting == load_wav(greeting)  # bob's greeting, at 8 kHz
    assert (voice.listen_seconds, voice.max_seconds, voice.silence_seconds) == (3.0, 30.0, 2.0)
    # no message: recorded with what happened, delivered to nobody
    assert (row.kind, row.state, row.result) == ("voice", "failed", "forwarded")
    assert row.message == "forwarded: to sip:desk@pbx.example.com"
    assert store.inbound_audio(row.id) is None and notices(store) == []


def test_the_users_rule_when_the_route_has_none(store: Store, tmp_path: Path) -> None:
    users = [{"name": "ann", "email": "ann@example.com", "fax_numbers": ["+12125550150"], "voice": "reject"}]
    driver, row = run_call(
        store, make_config(tmp_path, users=users), voice_result(ended_by="rejected", action="reject")
    )
    assert driver.options is not None and driver.options.voice is not None
    assert driver.options.voice.action == "reject"
    assert (row.state, row.result) == ("failed", "rejected")


@pytest.mark.parametrize("drop_silent", [True, False])
def test_a_silent_message_with_drop_silent_is_kept_from_its_users(
    store: Store, tmp_path: Path, drop_silent: bool
) -> None:
    rng = np.random.default_rng(3)
    hiss = np.round(rng.normal(0, 40, 8000 * 6)).astype("<i2").tobytes()
    config = make_config(tmp_path, voice={"drop_silent": drop_silent})
    _driver, row = run_call(store, config, voice_result(hiss, ended_by="silence"))
    assert store.inbound_audio(row.id) is not None  # kept either way
    if drop_silent:
        assert (row.state, row.message) == ("quarantined", SILENT) and notices(store) == []
    else:
        assert row.state == "received" and notices(store) == [(f"inbound:{row.id}", "inbound", "ann")]


def test_drop_silent_keeps_delivering_messages_with_speech(store: Store, tmp_path: Path) -> None:
    config = make_config(tmp_path, voice={"drop_silent": True})
    _driver, row = run_call(store, config, voice_result(speech(1.0), ended_by="limit"))
    assert (row.state, row.message) == ("received", "ended by limit")
    assert notices(store) == [(f"inbound:{row.id}", "inbound", "ann")]
