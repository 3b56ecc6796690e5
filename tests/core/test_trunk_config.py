"""[[trunks]]: a trunk's channels become lines, and a bad trunk is refused with a clear reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from umfax.config import Config, trunk_channel

TRUNK = {
    "name": "carrier",
    "registrar": "sip.example.net",
    "username": "12125550100",
    "password_env": "UMFAX_SIP_PASSWORD",
    "channels": 3,
    "dids": ["+12125550100", "+12125550101"],
}


def test_channels_are_lines_and_replace_the_simulated_ones() -> None:
    config = Config.model_validate({"trunks": [TRUNK]})
    assert [(line.name, line.port) for line in config.lines] == [
        ("carrier-1", "sip:carrier/1"),
        ("carrier-2", "sip:carrier/2"),
        ("carrier-3", "sip:carrier/3"),
    ]
    line = config.lines[0]
    assert line.number == "+12125550100"  # the first DID is the caller ID
    assert line.dial_format == "e164"
    assert line.answer_after_rings == 1
    assert trunk_channel(line.port) == ("carrier", 1)
    assert trunk_channel("sim:+12125550100") is None


def test_modem_lines_stay_beside_a_trunk() -> None:
    config = Config.model_validate(
        {"lines": [{"name": "modem", "port": "/dev/ttyUSB0"}], "trunks": [{**TRUNK, "channels": 1}]}
    )
    assert [line.name for line in config.lines] == ["modem", "carrier-1"]


def test_a_dumped_config_loads_back_the_same() -> None:
    config = Config.model_validate({"trunks": [TRUNK]})
    again = Config.model_validate(config.model_dump(exclude={"source"}))
    assert [line.name for line in again.lines] == [line.name for line in config.lines]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"registrar": ""}, "set registrar or proxy"),
        ({"password_env": ""}, "needs password_env"),
        ({"media_ports": "40000-40001"}, "2 port(s) for 3 channels"),
        ({"media_ports": "high-low"}, "is not 'first-last'"),
        ({"allowed_sources": ["somewhere"]}, "not an IP address or network"),
        ({"registrar": "sip.example.net:99999"}, "is not host:port"),
        ({"name": "a b"}, "name"),
    ],
)
def test_bad_trunks_say_what_is_wrong(change: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Config.model_validate({"trunks": [{**TRUNK, **change}]})


def test_a_sip_port_needs_its_trunk() -> None:
    with pytest.raises(ValidationError, match="describe a SIP trunk in"):
        Config.model_validate({"lines": [{"name": "x", "port": "sip:nowhere/1"}]})


def test_two_trunks_of_one_name_are_refused() -> None:
    with pytest.raises(ValidationError, match="same name"):
        Config.model_validate({"trunks": [TRUNK, TRUNK]})
