"""Mail intake and inbound delivery latency.

    python bench/intake.py [--messages 200] [--faxes 20]

Against a throwaway Dovecot and an SQLite store in a temporary directory, it prints:

* APPEND to the fax mailbox -> jobs committed, p50/p95/max over N messages, with the
  IMAP connector in IDLE mode and in polling mode (poll_interval 5 s), side by side.
  Messages arrive one at a time at independent moments (a random pause of 0-1 s after
  the previous one was committed, fixed seed), as mail does; appending each the instant
  the previous one commits would land every message in the few milliseconds between the
  connector's last command and its next IDLE, which real arrivals rarely do;
* SMTP DATA sent -> jobs committed (the 250 reply), p50/p95/max;
* the end of an inbound call (the reception closed in the store) -> the message in the
  user's IMAP INBOX, for a 10-page fax, p50/p95/max over M faxes, seen by a client
  IDLEing on that INBOX.

Targets (issue 5): intake p95 <= 1 s with IDLE; inbound delivery p95 <= 2 s.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import os
import random
import smtplib
import statistics
import tempfile
import threading
import time
from collections.abc import Callable

from connectors.imap import ImapDelivery, ImapIntake
from connectors.smtp import SmtpIntake
from tests.mailflow.messages import DOMAIN, fax_mail
from tests.servers.dovecot import DovecotServer
from tests.servers.ports import free_port
from umfax.config import Config, parse_config
from umfax.conversion import ConversionOptions, convert_documents
from umfax.mail.intake import IntakeResult, MailIntake, MailRef
from umfax.notifications.dispatch import Dispatcher
from umfax.store import PageIn, Store
from umfax.store.database import make_engine, upgrade


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def open_store(directory: str, name: str) -> Store:
    engine = make_engine(f"sqlite:///{directory}/{name}.db")
    upgrade(engine)
    return Store(engine)


class Recorder:
    """Wraps intake.accept: notes when each message's jobs were committed."""

    def __init__(self, accept: Callable[[bytes, MailRef], IntakeResult]) -> None:
        self.accept_inner = accept
        self.committed: dict[str, float] = {}
        self.event = threading.Event()

    def accept(self, raw: bytes, ref: MailRef) -> IntakeResult:
        result = self.accept_inner(raw, ref)
        subject = raw.split(b"\nSubject: ", 1)[1].split(b"\n", 1)[0].decode().strip()
        self.committed[subject] = time.perf_counter()
        self.event.set()
        return result


def mail_config(server: DovecotServer, user: str, *, idle: bool, smtp_port: int = 0) -> Config:
    connectors: list[dict[str, object]] = [
        {
            "type": "imap",
            "name": "bench",
            "host": server.host,
            "port": server.tls_port,
            "username": user,
            "password_env": "BENCH_IMAP_PASSWORD",
            "ca_file": str(server.ca_file),
            "idle": idle,
            "poll_interval": 5,
            "allowed_senders": ["@example.com"],
        }
    ]
    if smtp_port:
        connectors.append(
            {
                "type": "smtp",
                "name": "relay",
                "listen": f"127.0.0.1:{smtp_port}",
                "allowed_senders": ["@example.com"],
            }
        )
    return parse_config(
        {
            "mail": {
                "fax_domains": [DOMAIN],
                "imap": {
                    "host": server.host,
                    "port": server.tls_port,
                    "ca_file": str(server.ca_file),
                    "username": server.master_user,
                    "password_env": "BENCH_MASTER_PASSWORD",
                },
            },
            "connectors": connectors,
            "users": [{"name": "rx", "email": "rx@example.test", "delivery": "imap"}],
        }
    )


def imap_intake(server: DovecotServer, tmp: str, messages: int, *, idle: bool) -> list[float]:
    fax = server.add_user()
    os.environ["BENCH_IMAP_PASSWORD"] = fax.password
    config = mail_config(server, fax.name, idle=idle)
    store = open_store(tmp, f"imap-{idle}")
    intake = MailIntake(store, config, config.connectors[0], "imap:bench")
    recorder = Recorder(intake.accept)
    connector = ImapIntake(config.connectors[0], recorder.accept)  # type: ignore[arg-type]
    connector.start()
    latencies: list[float] = []
    pauses = random.Random(5)
    with server.client(fax) as client:
        time.sleep(1.0)  # let the connector log in and start waiting
        for n in range(messages):
            time.sleep(pauses.uniform(0.0, 1.0))
            subject = f"bench {idle} {n}"
            raw = fax_mail(subject=subject)
            recorder.event.clear()
            appended = time.perf_counter()
            client.append("INBOX", raw)
            deadline = time.monotonic() + 30
            while subject not in recorder.committed and time.monotonic() < deadline:
                recorder.event.wait(0.05)
                recorder.event.clear()
            if subject not in recorder.committed:
                raise SystemExit(f"message {n} was not taken in within 30 s")
            latencies.append(recorder.committed[subject] - appended)
    connector.stop()
    store.close()
    return latencies


def smtp_intake(tmp: str, server: DovecotServer, messages: int) -> list[float]:
    port = free_port()
    config = mail_config(server, "unused@example.test", idle=True, smtp_port=port)
    store = open_store(tmp, "smtp")
    intake = MailIntake(store, config, config.connectors[1], "smtp:relay")
    listener = SmtpIntake(config.connectors[1], intake.check_recipient, intake.accept)  # type: ignore[arg-type]
    listener.start()
    latencies = []
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for n in range(messages):
            raw = fax_mail(subject=f"smtp {n}")
            started = time.perf_counter()
            client.sendmail("ann@example.com", [f"12125550110@{DOMAIN}"], raw)  # 250 = committed
            latencies.append(time.perf_counter() - started)
    listener.stop()
    store.close()
    return latencies


def ten_page_fax() -> list[PageIn]:
    text = "\n\f".join(f"Page {n + 1}\n\n" + "Received fax bench line of text. " * 400 for n in range(10))
    pages = convert_documents([("fax.txt", text.encode())], ConversionOptions(resolution="fine"))  # type: ignore[arg-type]
    return [PageIn(p.data, p.width, p.length, p.x_res, p.y_res, p.encoding) for p in pages]


def inbound_delivery(tmp: str, server: DovecotServer, faxes: int) -> list[float]:
    receiver = server.add_user("rx@example.test")
    os.environ["BENCH_MASTER_PASSWORD"] = server.master_password
    config = mail_config(server, receiver.name, idle=True)
    store = open_store(tmp, "inbound")
    store.sync_users([("rx", "rx@example.test", "", None, True)])
    assert config.mail.imap is not None
    dispatcher = Dispatcher(store, config, "bench/outbox", imap=ImapDelivery(config.mail.imap))
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    thread.start()
    pages = ten_page_fax()
    latencies = []
    with server.client(receiver) as watcher:
        watcher.select_folder("INBOX")
        for _ in range(faxes):
            before = len(watcher.search("ALL"))
            fax = store.start_inbound("modem1", caller_number="+12125550199")
            for seq, page in enumerate(pages, start=1):
                store.add_inbound_page(fax.id, seq, page)
            watcher.idle()
            ended = time.perf_counter()
            store.finish_inbound(fax.id, result="ok", remote_id="BENCH", deliver_to=["rx"])
            dispatcher.wake()  # what the line worker does after a reception
            deadline = time.monotonic() + 30
            arrived = None
            while arrived is None and time.monotonic() < deadline:
                for response in watcher.idle_check(timeout=1):
                    if len(response) > 1 and response[1] == b"EXISTS" and int(response[0]) > before:
                        arrived = time.perf_counter()
            watcher.idle_done()
            if arrived is None:
                raise SystemExit("a received fax did not reach the mailbox within 30 s")
            latencies.append(arrived - ended)
    stop.set()
    dispatcher.wake()
    thread.join(5)
    store.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--faxes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, DovecotServer() as server:
        os.environ["BENCH_MASTER_PASSWORD"] = server.master_password
        idle = imap_intake(server, tmp, args.messages, idle=True)
        polling = imap_intake(server, tmp, max(20, args.messages // 10), idle=False)
        smtp = smtp_intake(tmp, server, args.messages)
        inbound = inbound_delivery(tmp, server, args.faxes)
    print(f"{'latency, seconds':44}{'p50':>8}{'p95':>8}{'max':>8}{'n':>6}")
    rows = [
        ("IMAP APPEND -> jobs committed (IDLE)", idle),
        ("IMAP APPEND -> jobs committed (poll 5 s)", polling),
        ("SMTP DATA -> 250 (jobs committed)", smtp),
        ("inbound 10 pages: call end -> in IMAP INBOX", inbound),
    ]
    for label, values in rows:
        p50, p95, worst = percentiles(values)
        print(f"{label:44}{p50:8.3f}{p95:8.3f}{worst:8.3f}{len(values):6d}")
    intake_ok = percentiles(idle)[1] <= 1.0
    inbound_ok = percentiles(inbound)[1] <= 2.0
    print(f"\ntarget intake p95 <= 1 s with IDLE: {'met' if intake_ok else 'NOT met'}")
    print(f"target inbound delivery p95 <= 2 s: {'met' if inbound_ok else 'NOT met'}")


if __name__ == "__main__":
    main()
