"""[voice]: what a call to a fax number gets when it turns out to be a voice caller."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from umfax.config.section import Duration, _Section

#: The voice rules a route, a user or [voice] may give.
VOICE_ACTIONS = ("voicemail", "reject")
FORWARD_PREFIX = "forward:"


def split_voice_rule(value: str) -> tuple[str, str]:
    """``("voicemail", "")``, ``("reject", "")`` or ``("forward", "sip:...")`` for a rule."""
    if value.startswith(FORWARD_PREFIX):
        return "forward", value[len(FORWARD_PREFIX) :]
    return value, ""


def _voice_rule(value: str) -> str:
    value = value.strip()
    if value in VOICE_ACTIONS:
        return value
    if value.startswith(FORWARD_PREFIX):
        target = value[len(FORWARD_PREFIX) :].strip()
        scheme, _, rest = target.partition(":")
        if scheme.lower() in ("sip", "sips") and rest and " " not in rest:
            return FORWARD_PREFIX + target
        raise ValueError(
            f"voice {value!r}: forward needs a SIP URI after 'forward:', "
            "e.g. 'forward:sip:reception@pbx.example.com'"
        )
    raise ValueError(f'voice {value!r} is not a voice rule: use "voicemail", "reject" or "forward:<sip-uri>"')


def _optional_voice_rule(value: str) -> str:
    return _voice_rule(value) if value.strip() else ""


def _greeting_path(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _readable_greeting(value: Path | None) -> Path | None:
    """A greeting must be a WAV file we can play: checked when the configuration loads,
    not when the first caller hears silence."""
    if value is not None:
        from umfax.voice import VoiceError, load_wav

        try:
            load_wav(value)
        except VoiceError as exc:
            raise ValueError(str(exc)) from exc
    return value


#: A WAV file played to voice callers; "" (None): the one the next in line gives.
GreetingPath = Annotated[Path | None, BeforeValidator(_greeting_path), AfterValidator(_readable_greeting)]

#: "voicemail", "reject" or "forward:<sip-uri>".
VoiceRule = Annotated[str, AfterValidator(_voice_rule)]
#: A voice rule, or "" for none (the next in line decides).
OptionalVoiceRule = Annotated[str, AfterValidator(_optional_voice_rule)]


class VoiceConfig(_Section):
    """Voice callers on lines that listen for them (``[[trunks]] listen_for_voice``)."""

    action: VoiceRule = "voicemail"
    greeting: GreetingPath = None  # a WAV file; None (""): the built-in greeting
    listen_seconds: Duration = Field(default=6.0, ge=1, le=60)  # listening for fax tones
    max_message_seconds: Duration = Field(default=120.0, ge=5, le=3600)
    silence_seconds: Duration = Field(default=5.0, ge=1, le=60)  # a message ends after this much
    drop_silent: bool = False  # a message with no speech is kept but delivered to nobody
