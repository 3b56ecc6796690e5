"""[[lines]] and the [simulator] with its default simulated lines and remote stations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from umfax.config.section import Duration, _Section


class LineConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    port: str  # pyserial URL or device path, or sim:NUMBER for a simulated line
    number: str = ""  # this line's own number (caller ID / inbound routing)
    enabled: bool = True
    send: bool = True
    receive: bool = True
    baud: int = 115200
    init: list[str] = ["ATZ", "ATE0V1Q0"]
    answer_after_rings: int = Field(default=2, ge=1, le=20)
    adaptive_answer: bool = False  # T.31 +FAE=1: hang up on data modems at once (Class 1 modems)
    station_id: str = ""  # overrides [fax].station_id for this line
    ecm: bool = True
    max_bit_rate: Literal[2400, 4800, 7200, 9600, 12000, 14400] = 14400
    probe_interval: Duration = 300.0
    batch_jobs: int = Field(default=10, ge=1, le=100)  # jobs to one number sent in one call
    max_consecutive_failures: int = Field(default=5, ge=1)
    # How the line dials a phone number: "dial_rules" (with [dial_rules]' prefixes, as
    # a modem dials) or "e164" (+12125550110: SIP trunk channels, see [[trunks]]).
    dial_format: Literal["dial_rules", "e164"] = "dial_rules"

    @field_validator("port")
    @classmethod
    def _port(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(
                "a port is required, e.g. '/dev/ttyUSB0', 'socket://host:port' or 'sim:+12125550100'"
            )
        if value.startswith("sim:") and len(value) == 4:
            raise ValueError("a simulated port needs a number, e.g. 'sim:+12125550100'")
        return value

    @property
    def simulated(self) -> bool:
        return self.port.startswith("sim:")


class SimRemote(_Section):
    number: str
    kind: Literal["receiver", "busy", "no_answer", "drop_mid_page"]
    name: str = ""


DEFAULT_SIM_REMOTES = (
    SimRemote(number="+12125550110", kind="receiver", name="receiver"),
    SimRemote(number="+12125550111", kind="busy", name="busy"),
    SimRemote(number="+12125550112", kind="no_answer", name="noanswer"),
    SimRemote(number="+12125550113", kind="drop_mid_page", name="dropper"),
)


class SimulatorConfig(_Section):
    speed: float = Field(default=10.0, gt=0, le=10000)  # 1.0 = real time
    remotes: list[SimRemote] = Field(default_factory=lambda: list(DEFAULT_SIM_REMOTES))


DEFAULT_SIM_LINES = (
    LineConfig(name="sim1", port="sim:+12125550100", number="+12125550100"),
    LineConfig(name="sim2", port="sim:+12125550101", number="+12125550101"),
)
