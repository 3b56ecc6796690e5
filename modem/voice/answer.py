"""Fax or voice: the sans-IO state machine of an answered audio call before it is known
to be a fax.  20 ms frames of 16-bit PCM in (with the time they belong to), frames to
send out; deadlines are data, so the machine has no clock, socket or thread.

    LISTEN  the greeting plays (then silence); the caller's audio goes to the tone
            detector.  A fax tone (CNG, V.21 preamble) -> DONE, verdict "fax".  A data
            modem's tone (2100/2225 Hz answer tone, 1300 Hz calling tone) -> DONE,
            verdict "data" (neither fax nor voice: the channel hangs up).  Nothing by
            max(listen_seconds, greeting length) -> a voice call: BEEP when recording
            (action "voicemail"), else DONE with verdict "voice" (reject, forward).
    BEEP    a short 1 kHz beep plays -> RECORD.
    RECORD  the caller's audio is kept, until ``silence_seconds`` of silence (energy
            under :data:`SILENCE_RMS`), ``max_seconds``, or the caller hangs up.
    DONE    :attr:`VoiceCall.outcome` says what happened.

A T.38 re-INVITE from the far end (a gateway that heard CNG itself) is a fax in any
phase.  A hang-up before RECORD is "hangup_in_greeting"; no RTP for ``media_timeout`` in any
phase is "media_timeout" (what was recorded is kept).  DTMF is not a fax tone: a caller
who only presses keys is a person, and leaves a message (of key tones) like any other.
A caller that sends silence, or nothing, is a voice call too: its message is silence.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from modem.api import VoiceOptions
from modem.voice.tones import DATA_TONES, FAX_TONES, Tone

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
FRAME_OCTETS = 2 * FRAME_SAMPLES
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
SILENT_FRAME = bytes(FRAME_OCTETS)
#: A frame whose RMS is below this (about -44 dBFS) is silence for the message's end.
SILENCE_RMS = 200.0
BEEP_HZ = 1000.0
BEEP_SECONDS = 0.4
BEEP_AMPLITUDE = 8000  # about -12 dBFS


class Phase(enum.StrEnum):
    LISTEN = "listen"
    BEEP = "beep"
    RECORD = "record"
    DONE = "done"


class Signal(enum.StrEnum):
    """What happened in a step (found by :class:`VoiceCall` from the frame and the time)."""

    FAX_TONE = "fax_tone"
    DATA_TONE = "data_tone"
    LISTEN_OVER = "listen_over"  # no fax tone by the end of listening
    BEEP_OVER = "beep_over"
    SILENCE = "silence"  # silence_seconds of silence while recording
    LIMIT = "limit"  # max_seconds recorded
    HANGUP = "hangup"  # the caller hung up (BYE)
    MEDIA_TIMEOUT = "media_timeout"  # no RTP for media_timeout
    T38_OFFER = "t38_offer"  # the far end (a gateway that heard CNG itself) offers T.38


class Verdict(enum.StrEnum):
    FAX = "fax"  # go on as a fax call
    DATA = "data"  # a data modem: neither fax nor voice
    VOICE = "voice"  # a person (or silence): the voice action applies
    GONE = "gone"  # the call ended (or its media stopped) before a message began


@dataclass(frozen=True, slots=True)
class Move:
    to: Phase
    verdict: Verdict | None = None  # set when ``to`` is DONE
    ended_by: str = ""  # VoiceOutcome.ended_by for a voice call that ends here


#: The machine: (phase, signal) -> move.  Pairs not listed are ignored.
TRANSITIONS: dict[tuple[Phase, Signal], Move] = {
    (Phase.LISTEN, Signal.FAX_TONE): Move(Phase.DONE, Verdict.FAX),
    (Phase.LISTEN, Signal.DATA_TONE): Move(Phase.DONE, Verdict.DATA),
    (Phase.LISTEN, Signal.LISTEN_OVER): Move(Phase.BEEP),  # (DONE, VOICE when not recording)
    (Phase.LISTEN, Signal.HANGUP): Move(Phase.DONE, Verdict.GONE, "hangup_in_greeting"),
    (Phase.LISTEN, Signal.MEDIA_TIMEOUT): Move(Phase.DONE, Verdict.GONE, "media_timeout"),
    (Phase.LISTEN, Signal.T38_OFFER): Move(Phase.DONE, Verdict.FAX),
    (Phase.BEEP, Signal.T38_OFFER): Move(Phase.DONE, Verdict.FAX),
    (Phase.RECORD, Signal.T38_OFFER): Move(Phase.DONE, Verdict.FAX),  # (what was recorded is dropped)
    (Phase.BEEP, Signal.BEEP_OVER): Move(Phase.RECORD),
    (Phase.BEEP, Signal.HANGUP): Move(Phase.DONE, Verdict.GONE, "hangup_in_greeting"),
    (Phase.BEEP, Signal.MEDIA_TIMEOUT): Move(Phase.DONE, Verdict.GONE, "media_timeout"),
    (Phase.RECORD, Signal.SILENCE): Move(Phase.DONE, Verdict.VOICE, "silence"),
    (Phase.RECORD, Signal.LIMIT): Move(Phase.DONE, Verdict.VOICE, "limit"),
    (Phase.RECORD, Signal.HANGUP): Move(Phase.DONE, Verdict.VOICE, "hangup"),
    (Phase.RECORD, Signal.MEDIA_TIMEOUT): Move(Phase.DONE, Verdict.VOICE, "media_timeout"),
}
#: Without recording (reject, forward), the end of listening is the end.
NOT_RECORDING = Move(Phase.DONE, Verdict.VOICE)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the listening (and recording) ended."""

    verdict: Verdict
    ended_by: str = ""
    tone: Tone | None = None  # the tone that decided FAX or DATA
    pcm: bytes = b""  # the message (16-bit LE PCM, 8 kHz), for a recorded one
    listened: float = 0.0  # seconds from the answer to the verdict on fax or voice

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (2 * SAMPLE_RATE)


def beep(seconds: float = BEEP_SECONDS, hz: float = BEEP_HZ) -> bytes:
    """A sine beep with 10 ms ramps (no clicks), as native int16 octets."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.01 * SAMPLE_RATE))
    return (BEEP_AMPLITUDE * ramp * np.sin(2 * math.pi * hz * t)).astype(np.int16).tobytes()


def rms(frame: bytes) -> float:
    samples = np.frombuffer(frame, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if len(samples) else 0.0


def _frames(audio: bytes) -> list[bytes]:
    """``audio`` cut into whole 20 ms frames (the last padded with silence)."""
    if len(audio) % FRAME_OCTETS:
        audio += bytes(FRAME_OCTETS - len(audio) % FRAME_OCTETS)
    return [audio[i:i + FRAME_OCTETS] for i in range(0, len(audio), FRAME_OCTETS)]


@dataclass
class VoiceCall:
    """One answered call's listening and recording.  Call :meth:`step` every 20 ms with
    the time and the frame heard (None: nothing received this tick); send what it
    returns.  :meth:`hangup` when the call ends.  Once :attr:`phase` is DONE,
    :attr:`outcome` says what happened.  ``detect`` is the tone detector
    (:meth:`modem.voice.tones.ToneDetector.feed`); ``record``: go on to BEEP/RECORD
    (action "voicemail") rather than stop at the verdict VOICE."""

    options: VoiceOptions
    detect: Callable[[bytes], Sequence[Tone]]
    start: float  # the time of the answer
    record: bool = True
    media_timeout: float = 30.0
    phase: Phase = Phase.LISTEN
    outcome: Outcome | None = None
    _greeting: list[bytes] = field(default_factory=list)
    _beep: list[bytes] = field(default_factory=lambda: _frames(beep()))
    _sent: int = 0  # frames of greeting or beep sent
    _message: bytearray = field(default_factory=bytearray)
    _last_heard: float = 0.0
    _last_loud: float = 0.0
    _record_start: float = 0.0
    _tone: Tone | None = None
    _listened: float = 0.0

    def __post_init__(self) -> None:
        greeting = np.frombuffer(self.options.greeting, dtype="<i2").astype(np.int16).tobytes()
        self._greeting = _frames(greeting) if greeting else []
        self._last_heard = self.start
        self.listen_until = self.start + max(self.options.listen_seconds,
                                             len(self._greeting) * FRAME_SECONDS)

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def step(self, now: float, heard: bytes | None, received: bool) -> bytes:
        """One 20 ms tick at ``now``: ``heard`` the caller's frame (None before any audio
        played out), ``received`` whether any RTP came since the last tick.  The frame
        to send (silence once DONE)."""
        if self.done:
            return SILENT_FRAME
        if received:
            self._last_heard = now
        for signal in self._signals(now, heard):
            self._apply(signal, now)
            if self.done:
                return SILENT_FRAME
        return self._out()

    def hangup(self, now: float) -> None:
        """The caller hung up (or the call ended otherwise)."""
        self._apply(Signal.HANGUP, now)

    def t38_offered(self, now: float) -> None:
        """The far end offered T.38 (a re-INVITE): it is a fax, whatever was heard."""
        self._apply(Signal.T38_OFFER, now)

    # --- inside -----------------------------------------------------------------------
    def _signals(self, now: float, heard: bytes | None) -> list[Signal]:
        found: list[Signal] = []
        if now - self._last_heard >= self.media_timeout:
            found.append(Signal.MEDIA_TIMEOUT)
        if self.phase is Phase.LISTEN:
            for tone in self.detect(heard if heard is not None else SILENT_FRAME):
                if tone in FAX_TONES or tone in DATA_TONES:
                    self._tone = tone
                    found.append(Signal.FAX_TONE if tone in FAX_TONES else Signal.DATA_TONE)
                    break
            if now >= self.listen_until:
                found.append(Signal.LISTEN_OVER)
        elif self.phase is Phase.BEEP:
            if self._sent >= len(self._beep):
                found.append(Signal.BEEP_OVER)
        elif self.phase is Phase.RECORD:
            frame = heard if heard is not None else SILENT_FRAME
            self._message += frame
            if rms(frame) >= SILENCE_RMS:
                self._last_loud = now
            if now - self._last_loud >= self.options.silence_seconds:
                found.append(Signal.SILENCE)
            if len(self._message) >= self.options.max_seconds * 2 * SAMPLE_RATE:
                found.append(Signal.LIMIT)
        return found

    def _apply(self, signal: Signal, now: float) -> None:
        move = TRANSITIONS.get((self.phase, signal))
        if move is None:
            return
        if move.to is Phase.BEEP and not self.record:
            move = NOT_RECORDING
        if self.phase is Phase.LISTEN:
            self._listened = now - self.start
        self.phase, self._sent = move.to, 0
        if move.to is Phase.RECORD:
            self._record_start = self._last_loud = now
        if move.to is Phase.DONE:
            assert move.verdict is not None
            tone = self._tone if move.verdict in (Verdict.FAX, Verdict.DATA) else None
            message = bytes(self._message) if move.verdict is not Verdict.FAX else b""
            pcm = np.frombuffer(message, dtype=np.int16).astype("<i2").tobytes()  # LE
            self.outcome = Outcome(move.verdict, move.ended_by, tone, pcm, self._listened)

    def _out(self) -> bytes:
        source = {Phase.LISTEN: self._greeting, Phase.BEEP: self._beep}.get(self.phase, [])
        if self._sent < len(source):
            self._sent += 1
            return source[self._sent - 1]
        return SILENT_FRAME


__all__ = ["NOT_RECORDING", "SILENCE_RMS", "TRANSITIONS", "Move", "Outcome", "Phase", "Signal", "Verdict",
           "VoiceCall", "beep", "rms"]
