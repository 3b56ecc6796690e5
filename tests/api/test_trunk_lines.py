"""A SIP trunk's channels are lines: the API shows each with its registration, /healthz
carries it, and /metrics has umfax_line_registered."""

from __future__ import annotations

import schemas
from tests.api.conftest import StartApi
from umfax.states import LineState

TRUNK = {
    "name": "carrier",
    "registrar": "sip.example.net",
    "username": "12125550100",
    "password_env": "UMFAX_TEST_NOT_READ_BY_THE_API",
    "channels": 2,
    "dids": ["+12125550100"],
}


def test_trunk_channels_show_their_registration(start_api: StartApi) -> None:
    api = start_api(convert=False, extra={"trunks": [TRUNK]})
    reports = {
        "carrier-1": (LineState.IDLE, "registered with sip.example.net:5060"),
        "carrier-2": (LineState.DOWN, "registration refused: 403 Forbidden"),
    }
    for name, (state, registration) in reports.items():
        api.store.set_line_state(name, node="n1", port=f"sip:carrier/{name[-1]}", number="+12125550100",
                                 state=state, detail=registration, registration=registration)
    lines = api.get("/api/v1/lines", "root").json()["lines"]
    assert [(line["name"], line["port"], line["registration"]) for line in lines] == [
        ("carrier-1", "sip:carrier/1", "registered with sip.example.net:5060"),
        ("carrier-2", "sip:carrier/2", "registration refused: 403 Forbidden"),
    ]
    for line in lines:
        schemas.validate("line", line)
    health = api.get("/healthz").json()
    schemas.validate("health", health)
    assert health["status"] == "degraded"
    assert health["checks"]["lines"]["carrier-2"]["registration"] == "registration refused: 403 Forbidden"
    metrics = api.get("/metrics").text
    assert 'umfax_line_registered{line="carrier-1"} 1' in metrics
    assert 'umfax_line_registered{line="carrier-2"} 0' in metrics


def test_modem_lines_have_no_registration(start_api: StartApi) -> None:
    api = start_api(convert=False)
    api.store.set_line_state("sim1", node="n1", port="sim:+12125550100", number="+12125550100",
                             state=LineState.IDLE)
    shown = {line["name"]: line for line in api.get("/api/v1/lines", "root").json()["lines"]}
    assert shown["sim1"]["registration"] is None
    assert "registration" not in api.get("/healthz").json()["checks"]["lines"]["sim1"]
    assert "umfax_line_registered{" not in api.get("/metrics").text
