"""Inbound routing: junk first, then rules, users' own numbers, the default."""

from __future__ import annotations

from umfax.config import parse_config
from umfax.routing import CallFacts, InboundRouter

CONFIG = {
    "users": [
        {"name": "ann", "email": "ann@example.com", "fax_numbers": ["+12125550150"]},
        {"name": "bob", "email": "bob@example.com", "fax_numbers": ["(212) 555-0151"]},
        {"name": "desk", "email": "desk@example.com"},
    ],
    "routing": {
        "default": ["desk"],
        "routes": [
            {"line": "modem2", "users": ["bob"]},
            {"caller": "+1646*", "csi": "*ACME*", "users": ["ann", "bob"]},
        ],
        "junk": {"callers": ["+1900*", "8005550199"], "csi": ["*WINNER*"], "action": "reject"},
    },
}


def router(**changes: object) -> InboundRouter:
    return InboundRouter(parse_config(CONFIG | changes))


def names(route: object) -> list[str]:
    return [u.name for u in route.users]  # type: ignore[attr-defined]


def test_rules_in_order_then_own_numbers_then_default() -> None:
    r = router()
    assert names(r.route(CallFacts("modem2", called="+12125550150"))) == ["bob"]  # the line rule comes first
    acme = CallFacts("modem1", caller="6465550100", csi=" acme corp ")  # national caller ID, CSI case
    assert names(r.route(acme)) == ["ann", "bob"]
    assert names(r.route(CallFacts("modem1", caller="+16465550100", csi="OTHER"))) == ["desk"]
    assert names(r.route(CallFacts("modem1", called="+1 212 555 0151"))) == ["bob"]
    assert r.route(CallFacts("modem1", called="+12125550150")).why.startswith("fax number")
    assert names(router(routing={"routes": []}).route(CallFacts("modem1"))) == []


def test_junk_is_rejected_before_answer_by_caller_and_quarantined_by_csi() -> None:
    r = router()
    assert r.reject_before_answer(CallFacts("modem1", caller="+19005551234"))
    assert r.reject_before_answer(CallFacts("modem1", caller="+18005550199"))  # pattern in national form
    assert r.reject_before_answer(CallFacts("modem1", caller="+12125551234")) is None
    # a CSI is known only during the call: quarantine, deliver to nobody
    route = r.route(CallFacts("modem1", caller="+12125551234", csi="You are a WINNER"))
    assert route.quarantined and route.users == [] and "WINNER" in route.why
    quarantine = {**CONFIG["routing"], "junk": {"callers": ["+1900*"], "action": "quarantine"}}  # type: ignore[dict-item]
    assert router(routing=quarantine).reject_before_answer(CallFacts("m", caller="+19005551234")) is None
