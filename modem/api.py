"""Public types of the modem library: what a line driver takes and returns.

The service (``umfax``) talks to lines only through these types.  They carry no
I/O and no dependency on the rest of umfax.

Bit order convention: ``PageImage.data`` is the coded T.4/T.6 bit stream of one
page as it would sit in a single-strip TIFF with FillOrder=1 (most significant
bit first).  Drivers reverse bits where the DCE wants LSB-first (T.31 Class 1).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Encoding = Literal["mh", "mr", "mmr"]


class HangupCause(enum.StrEnum):
    """Why a call ended.  The service maps each cause to a retry class."""

    OK = "ok"  # call completed, every page confirmed
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    NO_CARRIER = "no_carrier"  # answered but no fax tones / carrier lost
    NO_DIALTONE = "no_dialtone"
    PROTOCOL_ERROR = "protocol_error"  # T.30 failure (timeouts, bad frames, retrain exhausted)
    REMOTE_REJECTED = "remote_rejected"  # far end refused (DCN in phase B, no compatible mode)
    LINE_DROPPED = "line_dropped"  # call lost mid-transfer
    MODEM_ERROR = "modem_error"  # local modem unresponsive or misbehaving
    CANCELLED = "cancelled"  # stopped by us (shutdown, cancel)
    NO_T38 = "no_t38"  # a SIP far end that will not switch the call to T.38 (488/415, no re-INVITE)
    # A call that was not a fax (no CNG, no V.21 within the listening time), handled by
    # the voice rule: a message recorded (``CallResult.voice``), refused or forwarded.
    VOICE = "voice"


@dataclass(frozen=True, slots=True)
class PageImage:
    """One coded fax page."""

    data: bytes
    width: int  # pixels per line: 1728 for A4/Letter at 204 dpi
    length: int  # scan lines
    encoding: Encoding
    x_res: float  # dots per inch, 204 normally
    y_res: float  # lines per inch: 98 standard, 196 fine, 391 superfine


#: Re-codes a page to another coding and (lower) vertical resolution in lines per inch.
PageRecoder = Callable[["PageImage", Encoding, float], "PageImage"]


@dataclass(frozen=True, slots=True)
class SendOptions:
    local_id: str = ""  # our TSI, up to 20 chars of digits, space and +
    ecm: bool = True  # allow error correction mode
    max_bit_rate: int = 14400
    min_bit_rate: int = 2400
    ecm_frame_size: int = 256  # ECM frame size (T.4 Annex A): 256 or 64 octets
    # Modem families we may use, of "v17", "v29", "v27" (V.27ter); e.g. ("v29", "v27") on
    # a line where V.17 trains badly.
    modems: tuple[str, ...] = ("v17", "v29", "v27")
    # With a recoder, pages go out in the best coding the far end accepts (MMR with ECM,
    # else MR, else MH) and at a resolution it accepts; without one, a page the far end
    # cannot take as it is ends the call with REMOTE_REJECTED.
    recode: PageRecoder | None = None


class ProgressKind(enum.StrEnum):
    DIALING = "dialing"
    CONNECTED = "connected"  # far end answered with fax tones; remote_id may be known
    NEGOTIATED = "negotiated"  # DCS accepted: bit_rate/encoding/ecm known
    PAGE_STARTED = "page_started"
    PAGE_DONE = "page_done"  # page confirmed by the far end (MCF / all frames acked)
    PAGE_RETRY = "page_retry"  # RTN or PPR: page will be retransmitted
    HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class Progress:
    kind: ProgressKind
    page: int = 0  # 1-based page number where relevant
    pages: int = 0
    remote_id: str = ""
    bit_rate: int = 0
    encoding: Encoding | None = None
    ecm: bool = False
    message: str = ""


ProgressCallback = Callable[[Progress], None]


class AbortCall(Exception):
    """Raised by a progress callback to end the call at once (e.g. the job was cancelled).

    The driver hangs up cleanly (DCN where T.30 allows) and returns a
    :class:`CallResult` with cause ``CANCELLED`` and the pages confirmed so far.
    """


@dataclass(slots=True)
class CallResult:
    cause: HangupCause
    message: str = ""  # human-readable detail, e.g. "no response to DCS after 3 tries"
    remote_id: str = ""  # CSI (when sending) or TSI (when receiving)
    # The far end's non-standard facilities frame as received (NSF when sending, NSS when
    # receiving): FIF octets, T.35 country code first (see ``modem.t30.dis.decode_nsf``).
    # We never send one.
    remote_nsf: bytes = b""
    bit_rate: int = 0
    encoding: Encoding | None = None
    ecm: bool = False
    y_res: float = 0.0
    pages_done: int = 0  # pages confirmed (sent) or received
    transport: str = ""  # how the fax crossed a SIP call: "t38" or "g711"; "" on modem lines
    # A voice call (cause VOICE): what the voice rule did with it and the message recorded.
    voice: VoiceOutcome | None = None
    started_at: datetime | None = None
    connected_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.cause is HangupCause.OK


#: What an answered call that turns out to be voice gets: a message recorded after the
#: greeting and a beep ("voicemail"), a hang-up ("reject"), or a transfer elsewhere
#: ("forward", to ``VoiceOptions.forward_to``).
VoiceAction = Literal["voicemail", "reject", "forward"]


@dataclass(frozen=True, slots=True)
class VoiceOptions:
    """How a line that can hear voice (a SIP line in G.711) treats an answered call
    before it knows fax from voice.  Audio is 16-bit signed little-endian PCM, 8 kHz mono."""

    action: VoiceAction = "voicemail"
    forward_to: str = ""  # a SIP URI, for action "forward"
    greeting: bytes = b""  # played while listening for fax tones; b"": silence, then the beep
    listen_seconds: float = 6.0  # after this long (and the greeting's end) with no CNG/V.21: voice
    max_seconds: float = 120.0  # the longest message recorded
    silence_seconds: float = 5.0  # a message ends after this much silence


@dataclass(frozen=True, slots=True)
class VoiceOutcome:
    """What happened to a voice call (``CallResult.cause`` VOICE)."""

    action: VoiceAction
    pcm: bytes = b""  # the message, 16-bit LE PCM at 8 kHz mono (b"" when none was recorded)
    seconds: float = 0.0  # the message's length
    # Why the recording stopped: "hangup", "silence", "limit", "media_timeout"; or for no
    # message: "rejected", "forwarded", "forward_failed", "hangup_in_greeting".
    ended_by: str = ""
    detail: str = ""  # in words, e.g. "forwarded to sip:reception@pbx" or why it failed


@dataclass(frozen=True, slots=True)
class IncomingCall:
    caller_number: str = ""  # NMBR= from caller ID
    caller_name: str = ""  # NAME=
    called_number: str = ""  # NDID= / DID
    rings: int = 1


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    number: int  # 1-based
    image: PageImage
    good: bool = True  # False when the page arrived with errors (RTN sent)


PageSink = Callable[[ReceivedPage], None]


@dataclass(frozen=True, slots=True)
class ReceiveOptions:
    local_id: str = ""  # our CSI
    ecm: bool = True
    max_bit_rate: int = 14400
    accept_encodings: tuple[Encoding, ...] = ("mh", "mr", "mmr")
    # Modem families offered in our DIS: V.27ter always; V.29 and V.17 when listed here
    # and ``max_bit_rate`` allows them (a DIS cannot offer V.17 without V.29).
    modems: tuple[str, ...] = ("v17", "v29", "v27")
    # Adaptive answer (T.31 +FAE=1): the modem tells fax callers from data modems; a data
    # call is hung up at once instead of failing T.30 after 35 s of silence.
    adaptive_answer: bool = False
    # Fax or voice (SIP lines in G.711): listen for CNG / V.21 first and treat a voice
    # caller as these options say.  None: every call is a fax (lines that cannot hear voice
    # ignore it).
    voice: VoiceOptions | None = None
    # Counts the rows of an error-free (ECM) page: (data, encoding, width) -> rows.  None:
    # the T.30 engine's own decoder, pure Python, which holds the GIL for a few hundred
    # ms a page; a C decoder (umfax passes libtiff's) lets other lines' media run meanwhile.
    count_rows: RowCounter | None = None


#: (coded page, its encoding, its width in pixels) -> rows; raises ValueError if it cannot.
RowCounter = Callable[[bytes, Encoding, int], int]


@dataclass(frozen=True, slots=True)
class LineStatus:
    ok: bool
    detail: str = ""  # e.g. modem identification, or what failed
    classes: tuple[str, ...] = field(default_factory=tuple)  # "1", "1.0", "2", "2.0"; "sip", "t38"
    registration: str = ""  # a SIP line's registration in words ("registered with ..."); modems: ""


class FaxLineDriver(Protocol):
    """A fax line as the service sees it.  Every method blocks; one thread per line."""

    def probe(self) -> LineStatus: ...

    def send(
        self,
        dial_string: str,
        pages: list[PageImage],
        options: SendOptions,
        progress: ProgressCallback,
    ) -> CallResult: ...

    def wait_for_call(self, timeout: float) -> IncomingCall | None:
        """Return when the line rings (after the first RING), or None on timeout."""
        ...

    def receive(
        self,
        call: IncomingCall,
        options: ReceiveOptions,
        on_page: PageSink,
        progress: ProgressCallback,
    ) -> CallResult:
        """Answer the ringing call and receive; each page is handed to ``on_page`` as it arrives."""
        ...

    def decline(self, call: IncomingCall, reason: str) -> None:
        """Refuse the ringing call without answering it (a junk caller): a SIP line
        answers 603 Decline; a modem line cannot refuse, it lets the call ring out."""
        ...

    def close(self) -> None: ...
