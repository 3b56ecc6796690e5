"""The G.711 side of a SIP channel: where a call's audio goes, in which law, and the
progress filter for a fax that continues in G.711 after T.38 was refused."""

from __future__ import annotations

from dataclasses import dataclass

from modem.api import Progress, ProgressCallback, ProgressKind
from modem.g711 import Law
from modem.sdp import SessionDescription

#: Static RTP payload types of G.711 (RFC 3551).
LAWS: dict[str, Law] = {"0": "PCMU", "8": "PCMA"}


@dataclass(frozen=True)
class AudioTarget:
    host: str
    port: int
    law: Law


def audio_target(theirs: SessionDescription, agreed: SessionDescription) -> AudioTarget | None:
    """Where the far end's audio goes (``theirs``) and the G.711 law to send: the first of
    PCMU/PCMA in ``agreed``'s audio stream (our answer, or their answer to our offer)."""
    media, ours = theirs.find("audio"), agreed.find("audio")
    if media is None or ours is None:
        return None
    host = theirs.media_address(media)
    law = next((LAWS[f] for f in ours.formats if f in LAWS), None)
    if not host or law is None:
        return None
    return AudioTarget(host, media.port, law)


def no_dialing(progress: ProgressCallback) -> ProgressCallback:
    """``progress`` without a second DIALING note (the soft modem's dial is no new call)."""

    def forward(note: Progress) -> None:
        if note.kind is not ProgressKind.DIALING:
            progress(note)

    return forward
