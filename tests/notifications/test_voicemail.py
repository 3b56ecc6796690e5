"""A voice message as mail: what mail clients know as voicemail, read back with the stdlib
parser; the WAV decodes with ``wave`` to the message's length.  And its SMS text."""

from __future__ import annotations

import email
import email.policy
import io
import wave
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from connectors.folder import FolderDelivery
from tests.notifications.voice_samples import CONFIG, RATE, received_voice, voice_mail
from umfax.notifications import sms
from umfax.notifications.ports import FolderDrop
from umfax.notifications.voicemail import voice_message
from umfax.store.models import Inbound


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_voice_message_is_mail_with_its_wav_and_the_calls_headers() -> None:
    message = parsed(voice_mail("ann@example.com", seconds=23.4, outbox_id=41))
    assert message["Subject"] == "Voice message from Bob Builder (0:23)"
    assert message["To"] == "ann@example.com"
    assert message["Message-ID"] == f"<umfax.voice.41.{CONFIG.server.node_name}@example.com>"
    assert message["Message-Context"] == "voice-message" and message["Content-Class"] == "voice-ca"
    assert message["X-Fax-Id"] == "12" and message["X-Fax-Line"] == "trunk1"
    assert message["X-Fax-Caller-Number"] == "+12125550199" and message["X-Fax-Caller-Name"] == "Bob Builder"
    assert message["X-Fax-Called-Number"] == "+12125550100" and message["X-Fax-Status"] == "received"
    assert message["X-Fax-Duration"] == "0:32"  # the call: greeting and beep included
    assert message["X-Voice-Duration"] == "23" and message["X-VoiceMessageDuration"] == "23"
    assert message["X-CallingTelephoneNumber"] == "+12125550199"
    assert message["X-VoiceMessageSenderName"] == "Bob Builder"
    assert message["X-AttachmentOrder"] == "voice-12.wav"
    [audio] = list(message.iter_attachments())
    assert audio.get_content_type() == "audio/wav" and audio.get_filename() == "voice-12.wav"
    assert audio.get_content_disposition() == "attachment"
    assert audio["Content-Duration"] == "23"
    with wave.open(io.BytesIO(audio.get_content())) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, RATE)
        assert abs(reader.getnframes() / RATE - 23.4) < 0.01
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    facts = ("+1 212-555-0199", "Bob Builder", "+1 212-555-0100", "2026-03-01 12:00:00", "0:23", "trunk1")
    assert all(fact in text for fact in facts), text


def test_a_repeated_delivery_is_the_same_message() -> None:
    first = parsed(voice_mail("ann@example.com", outbox_id=7))
    again = parsed(voice_mail("ann@example.com", outbox_id=7))
    assert first["Message-ID"] == again["Message-ID"]


def test_a_withheld_caller_is_an_unknown_caller() -> None:
    voice = received_voice(65.0, caller_number="", caller_name="")
    message = voice_message(CONFIG, voice, "ann@example.com", 3).message
    assert message["Subject"] == "Voice message from unknown caller (1:05)"
    assert message["X-Fax-Caller-Number"] == "" and message["X-CallingTelephoneNumber"] is None
    named = voice_message(CONFIG, received_voice(5.0, caller_name=""), "a@example.com", 4).message
    assert named["Subject"] == "Voice message from +1 212-555-0199 (0:05)"


def test_folder_delivery_writes_the_message_and_its_wav(tmp_path: Path) -> None:
    message = voice_message(CONFIG, received_voice(2.0), "folk@example.com", 5).message
    at = datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)
    FolderDelivery().deliver(FolderDrop(tmp_path, message, "inbound:12", at))
    FolderDelivery().deliver(FolderDrop(tmp_path, message, "inbound:12", at))  # again: same files
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "20260301-120001-inbound-12.eml",
        "20260301-120001-inbound-12.wav",
    ]
    with wave.open(str(tmp_path / "20260301-120001-inbound-12.wav")) as reader:
        assert reader.getnframes() == 2 * RATE
    assert parsed((tmp_path / "20260301-120001-inbound-12.eml").read_bytes())["X-Voice-Duration"] == "2"


def test_the_text_says_who_called_and_how_long() -> None:
    call = Inbound(id=3, caller_number="+12125550199", caller_name="", line="trunk1")
    assert sms.voice_text(call, 23.4) == (
        "umfax: voice message from +1 212-555-0199, 0:23. It is in your mailbox."
    )
    call.caller_name = "Bob"
    assert "from Bob, 2:00." in sms.voice_text(call, 119.6)
