"""A voice message to deliver in tests: a WAV of a tone, the call's facts, the mail."""

from __future__ import annotations

import io
import math
import struct
import wave
from datetime import UTC, datetime, timedelta

from umfax.config import Config, parse_config
from umfax.notifications.facts import InboundFacts, ReceivedVoice
from umfax.notifications.voicemail import voice_message

RATE = 8000
AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = parse_config({"mail": {"from_address": "fax@example.com"}})


def tone_wav(seconds: float, hz: float = 440.0) -> bytes:
    """``seconds`` of a tone as 16-bit mono 8 kHz WAV, as a recorded message is stored."""
    frames = int(seconds * RATE)
    samples = (int(8000 * math.sin(2 * math.pi * hz * n / RATE)) for n in range(frames))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def call_facts(inbound_id: int = 12, seconds: float = 23.4, **given: object) -> InboundFacts:
    facts: dict[str, object] = {
        "id": inbound_id,
        "state": "received",
        "line": "trunk1",
        "caller_number": "+12125550199",
        "caller_name": "Bob Builder",
        "called_number": "+12125550100",
        "remote_id": "",
        "started_at": AT,
        "ended_at": AT + timedelta(seconds=seconds + 9),
        "pages": 0,
        "bit_rate": 0,
        "encoding": "",
        "ecm": False,
        "result": "ok",
        "message": "",
    }
    return InboundFacts(**(facts | given))  # type: ignore[arg-type]


def received_voice(seconds: float = 23.4, **given: object) -> ReceivedVoice:
    return ReceivedVoice(call_facts(seconds=seconds, **given), tone_wav(seconds), seconds)


def voice_mail(to: str, seconds: float = 3.0, outbox_id: int = 41, config: Config = CONFIG) -> bytes:
    """The RFC 5322 bytes of a voice message, as the dispatcher hands them to a mailbox."""
    return bytes(voice_message(config, received_voice(seconds), to, outbox_id).message)
