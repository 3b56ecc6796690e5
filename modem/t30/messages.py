"""Actions the T.30 engine asks for, and events it consumes.

Data conventions: HDLC frames in actions/events are octets without FCS (address,
control, FCF, FIF); the driver (or the DCE) adds/removes the FCS.  High-speed data
(TCF, image, ECM HDLC bit stream) is in line order: octets transmitted LSB first, as on
the T.31 DCE interface.
"""

from __future__ import annotations

from dataclasses import dataclass

from modem.api import HangupCause
from modem.hdlc import Frame

# --- actions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendFrames:
    """Send HDLC frames at V.21 (the last one carries the final bit)."""

    frames: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ReceiveFrames:
    """Receive V.21 HDLC frames up to the one with the final bit, waiting ``timeout`` s."""

    timeout: float


@dataclass(frozen=True, slots=True)
class SendTCF:
    modulation: int  # T.31 code
    bit_rate: int
    octets: int  # zeros to send (1.5 s)


@dataclass(frozen=True, slots=True)
class ReceiveTCF:
    modulation: int
    bit_rate: int
    timeout: float


@dataclass(frozen=True, slots=True)
class SendImage:
    """High-speed data: a non-ECM page (with fill and RTC) or an ECM block as HDLC bits."""

    modulation: int
    bit_rate: int
    data: bytes
    ecm: bool = False


@dataclass(frozen=True, slots=True)
class ReceiveImage:
    modulation: int
    bit_rate: int
    timeout: float
    ecm: bool = False


@dataclass(frozen=True, slots=True)
class Silence:
    ms: int


@dataclass(frozen=True, slots=True)
class Hangup:
    cause: HangupCause
    message: str


Action = SendFrames | ReceiveFrames | SendTCF | ReceiveTCF | SendImage | ReceiveImage | Silence | Hangup

# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Done:
    """A send action (frames, TCF, image, silence) completed."""


@dataclass(frozen=True, slots=True)
class FramesReceived:
    frames: tuple[Frame, ...]  # frames with a good FCS, in order
    bad: int = 0  # frames dropped for a bad FCS


@dataclass(frozen=True, slots=True)
class FrameError:
    """V.21 carrier came but no frame had a good FCS."""


@dataclass(frozen=True, slots=True)
class TimedOut:
    """Nothing arrived within the action's timeout."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    data: bytes  # high-speed data up to carrier loss (DLE ETX)


@dataclass(frozen=True, slots=True)
class WrongCarrier:
    """+FCERROR: a different carrier (typically V.21 frames) instead of high speed."""


@dataclass(frozen=True, slots=True)
class LineLost:
    message: str = ""


Event = Done | FramesReceived | FrameError | TimedOut | DataReceived | WrongCarrier | LineLost
