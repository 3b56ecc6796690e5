"""Mutated real messages thrown at UserAgents in the middle of a call: nothing raises."""

from __future__ import annotations

import logging
import random

import pytest

from tests.modem.sip.ua_harness import Net, config, sdp

A = ("10.0.0.1", 5060)
B = ("10.0.0.2", 5062)
PIECES = [b",", b";", b"<", b">", b'"', b":", b"\r\n", b" ", b"@", b"=", b"0", b"99999999999", b"\r\n\r\n",
          b";tag=x", b"\r\n ", b"\x00", b"\xff"]


def mutate(rng: random.Random, corpus: list[bytes]) -> bytes:
    m = bytearray(rng.choice(corpus))
    for _ in range(rng.randint(1, 6)):
        p = rng.randrange(len(m)) if m else 0
        op = rng.random()
        if op < 0.3 and m:
            m[p] = rng.randrange(256)
        elif op < 0.5 and m:
            del m[p : p + rng.randint(1, 20)]
        elif op < 0.7:
            m[p:p] = rng.choice(PIECES)
        else:
            seg = rng.choice(corpus)
            q = rng.randrange(len(seg))
            m[p:p] = seg[q : q + rng.randint(1, 40)]
    return bytes(m)


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_messages_never_raise(seed: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="modem.sip")
    net = Net()
    a = net.add_ua(config(*A, session_expires=120), 1)
    b = net.add_ua(config(*B), 2)
    cid = a.invite("sip:fax@10.0.0.2:5062", sdp(1), 0.0)
    net.run(0.01)
    b.ringing(cid, net.now)
    b.answer(cid, sdp(1), net.now)
    net.run(0.05)
    a.reinvite(cid, sdp(2, "image"), net.now)
    net.run(net.now + 0.1)
    b.accept_reinvite(cid, sdp(2, "image"), net.now)
    net.run(net.now + 0.1)
    corpus = [d for _, _, _, d in net.wire]
    rng = random.Random(seed)
    for _ in range(1500):
        ua = rng.choice([a, b])
        ua.receive(mutate(rng, corpus), rng.choice([A, B, ("10.9.9.9", 5060)]), net.now)
        net.now += 0.01
        net.settle()
        ua.on_timer(net.now)
    a.hangup(cid, net.now)
    net.run(net.now + 100)
    assert a.next_deadline() is None and b.next_deadline() is None  # nothing left stuck
