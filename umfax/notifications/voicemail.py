"""A voice message as a mail message that mail clients know as voicemail.

* RFC 3458: ``Message-Context: voice-message`` (faxes say ``fax-message``);
* the audio attached as ``audio/wav``, named ``voice-<id>.wav`` as RFC 3801 (VPIM v2)
  names voice parts by the message, with ``Content-Duration`` (RFC 3803, seconds) and
  ``Content-Description``;
* Exchange's MIME conversion (MS-OXCMAIL 2.1.3.2.3, 2.2.3.2.x): ``Content-Class: voice-ca``
  makes the item an ``IPM.Note.Microsoft.Voicemail.UM.CA`` (Outlook's voicemail form with
  its audio player), and ``X-CallingTelephoneNumber``, ``X-VoiceMessageDuration``,
  ``X-VoiceMessageSenderName``, ``X-AttachmentOrder`` fill the Unified Messaging properties
  (PidTagSenderTelephoneNumber, PidTagVoiceMessageDuration, ..., the audio to play);
* umfax's own ``X-Fax-*`` headers as on a received fax (``X-Fax-Id`` is the inbound id,
  shared by faxes and voice messages), plus ``X-Voice-Duration`` (whole seconds).

No compressed copy of the audio is attached: no dependency of umfax encodes a compressed
audio format (MP3, Opus, GSM...), so the WAV (16-bit PCM, 8 kHz) is the only audio part.
"""

from __future__ import annotations

from umfax.config import Config
from umfax.notifications.facts import ReceivedVoice
from umfax.notifications.reports import Outgoing, _base, _duration, _when
from umfax.numbers import display

#: RFC 3458: the message is a voice message.
VOICE_CONTEXT = "voice-message"
#: MS-OXCMAIL: the Content-Class Exchange maps to IPM.Note.Microsoft.Voicemail.UM.CA.
VOICE_CONTENT_CLASS = "voice-ca"


def clock(seconds: float) -> str:
    """``seconds`` as m:ss (rounded to whole seconds), as phones show a message's length."""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def audio_filename(inbound_id: int) -> str:
    return f"voice-{inbound_id}.wav"


def caller_of(voice: ReceivedVoice) -> str:
    """Who called, as the subject names them: name, else number, else "unknown caller"."""
    call = voice.call
    return call.caller_name or (display(call.caller_number) if call.caller_number else "unknown caller")


def voice_message(config: Config, voice: ReceivedVoice, to: str, outbox_id: int) -> Outgoing:
    """A voice message as a mail message: the call's facts and the WAV attached."""
    call = voice.call
    seconds = max(0, round(voice.seconds))
    subject = f"Voice message from {caller_of(voice)} ({clock(voice.seconds)})"
    message = _base(config, to, subject, outbox_id, "voice")
    message["Message-Context"] = VOICE_CONTEXT
    message["X-Fax-Id"] = str(call.id)
    message["X-Fax-Caller-Number"] = call.caller_number or ""
    message["X-Fax-Caller-Name"] = call.caller_name or ""
    message["X-Fax-Called-Number"] = call.called_number or ""
    message["X-Fax-Duration"] = _duration(call.started_at, call.ended_at)
    message["X-Fax-Line"] = call.line
    message["X-Fax-Status"] = call.state
    message["X-Voice-Duration"] = str(seconds)
    if call.caller_number:
        message["X-CallingTelephoneNumber"] = call.caller_number
    if call.caller_name:
        message["X-VoiceMessageSenderName"] = call.caller_name
    message["X-VoiceMessageDuration"] = str(seconds)
    message["X-AttachmentOrder"] = audio_filename(call.id)
    facts = [
        f"You received a voice message of {clock(voice.seconds)}. The recording is attached.",
        "",
        f"Caller ID:  {display(call.caller_number) if call.caller_number else 'unknown'}",
        f"Name:       {call.caller_name or '-'}",
        f"To number:  {display(call.called_number) if call.called_number else '-'}",
        f"Received:   {_when(call.started_at)}",
        f"Duration:   {clock(voice.seconds)} (call {_duration(call.started_at, call.ended_at)})",
        f"Line:       {call.line}",
        "",
        "-- ",
        "umfax fax server",
    ]
    message.set_content("\n".join(facts) + "\n")
    message.add_attachment(
        voice.wav,
        maintype="audio",
        subtype="wav",
        filename=audio_filename(call.id),
        headers=[f"Content-Duration: {seconds}", "Content-Description: Voice message"],
    )
    # last: set_content and add_attachment move or drop the top part's Content-* headers
    message["Content-Class"] = VOICE_CONTENT_CLASS
    return Outgoing(message)
