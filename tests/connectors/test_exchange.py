"""The EWS connector against a fake Exchange 2019 (tests/servers/ews.py), driven by the
real, unmodified exchangelib over HTTP with NTLM or Basic really checked; the store on
SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from exchangelib.protocol import CachingProtocol

from connectors.exchange import FAX_ITEM_CLASS, VOICE_ITEM_CLASS, ExchangeDelivery, ExchangeIntake
from tests.mail import corpus
from tests.mailflow.messages import fax_mail
from tests.mailflow.test_dispatch import fax_pages
from tests.notifications.voice_samples import voice_mail
from tests.servers.ews import EwsServer, MailboxState
from tests.servers.ews_mailbox import Folder
from tests.servers.umfax_site import UmfaxSite, fax_mailbox_site
from umfax.config import Config, ExchangeConnectorConfig, parse_config
from umfax.errors import MAX_ERROR_TEXT, ConnectorError
from umfax.logs import TextFormatter
from umfax.mail.intake import IntakeResult, MailIntake, MailRef
from umfax.notifications.dispatch import Dispatcher
from umfax.store import CallOutcome, Store

SERVICE = "EXAMPLE\\svc-fax"
PASSWORD = "Fax-Service-2019!"
FAX_BOX = "fax@allowed.example"
ALICE = "alice@allowed.example"


@pytest.fixture(autouse=True)
def fresh_protocols() -> Iterator[None]:
    """exchangelib caches a protocol (auth type included) per endpoint and credentials.

    Loopback ports are reused across tests, so a server with Basic can get the port an NTLM
    server had a moment ago: each test starts with an empty cache.
    """
    CachingProtocol.clear_cache()
    yield
    CachingProtocol.clear_cache()


@pytest.fixture(params=["ntlm", "basic"])
def ews(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[EwsServer]:
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", PASSWORD)
    with EwsServer(auth=request.param) as server:
        server.add_user(SERVICE, PASSWORD, "svc-fax@allowed.example", impersonator=True)
        server.mailbox(FAX_BOX)
        server.mailbox(ALICE)
        yield server


def config(ews: EwsServer, **connector: Any) -> Config:
    ews_account = {
        "url": ews.url,
        "username": SERVICE,
        "password_env": "UMFAX_TEST_EWS_PASSWORD",
        "auth": ews.auth,
    }
    return parse_config(
        {
            "mail": {"fax_domains": list(corpus.FAX_DOMAINS), "exchange": ews_account},
            "connectors": [
                {
                    "type": "exchange",
                    "name": "exchange:fax",
                    "mailbox": FAX_BOX,
                    "allowed_senders": ["@allowed.example"],
                    "poll_interval": 0.1,
                    "refusal_replies": False,
                }
                | ews_account
                | connector
            ],
            "users": [{"name": "alice", "email": ALICE, "delivery": "exchange"}],
        }
    )


def intake_for(
    store: Store, cfg: Config, accept: Callable[[bytes, MailRef], IntakeResult] | None = None
) -> ExchangeIntake:
    connector = cfg.connectors[0]
    assert isinstance(connector, ExchangeConnectorConfig)
    store.sync_users([("alice", ALICE, "Alice", None, True)])
    mail = MailIntake(store, cfg, connector, connector.label)
    return ExchangeIntake(connector, accept or mail.accept, backoff_start=0.05)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def subjects(box: MailboxState, folder: str) -> list[str]:
    return sorted(i.subject for i in box.items_in(folder))


def test_outlook_fax_contacts_become_jobs_and_items_move_after_commit(store: Store, ews: EwsServer) -> None:
    box = ews.mailbox(FAX_BOX)
    box.deliver(corpus.message("outlook_2016_imceafax"))  # IMCEAFAX-encapsulated fax contacts
    box.deliver(fax_mail(to='"Bob" <[FAX:Bob Builder@+1 (212) 555-0110]>', sender=ALICE, subject="Bracketed"))
    intake = intake_for(store, config(ews))
    intake.start()
    try:
        wait_for(lambda: len(box.items_in("Faxed")) == 2)
    finally:
        intake.stop()
    jobs = sorted((j.number, j.recipient_name, j.sender) for j in store.list_jobs())
    assert jobs == [
        ("+12125550110", "Bob Builder", ALICE),
        ("+12125550111", "Jane Doe", ALICE),
        ("+12125550112", "Acme Billing", ALICE),
    ]
    assert box.items_in("Inbox") == [] and box.items_in("Refused") == []
    assert subjects(box, "Faxed") == ["Bracketed", "Invoice 7781 and site photo"]
    jane = next(j for j in store.list_jobs() if j.recipient_name == "Jane Doe")
    assert [d.filename for d in store.documents(jane.id)] == ["Invoice 7781.pdf", "site-photo.png"]
    first = {c.operation for c in ews.calls}
    assert {"GetItem", "MoveItem", "CreateFolder"} <= first
    assert all(c.impersonated and c.mailbox == FAX_BOX for c in ews.calls if c.operation == "MoveItem")
    health = intake.health().as_dict()
    assert health["handled"] == 2 and health["failures"] == 0


def test_the_report_lands_in_the_senders_inbox_as_a_fax_item(store: Store, ews: EwsServer) -> None:
    box = ews.mailbox(FAX_BOX)
    box.deliver(
        fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="Contract", message_id="<c1@x>")
    )
    cfg = config(ews)
    intake = intake_for(store, cfg)
    intake.start()
    try:
        wait_for(lambda: len(box.items_in("Faxed")) == 1)
    finally:
        intake.stop()
    [job] = store.list_jobs()
    claimed = store.claim_conversion("n/1/convert", 60)
    assert claimed is not None
    store.finish_conversion(job.id, "n/1/convert", fax_pages(2))
    claim = store.claim_send("n/1/l1", "modem1", 60)
    assert claim is not None
    store.finish_send(claim, CallOutcome(cause=None, pages_sent=2, bit_rate=14400, encoding="mmr", ecm=True))
    assert cfg.mail.exchange is not None
    dispatcher = Dispatcher(store, cfg, "test/outbox", exchange=ExchangeDelivery(cfg.mail.exchange))
    assert dispatcher.run_once() == 1
    [item] = ews.mailbox(ALICE).items_in("Inbox")
    assert item.item_class == FAX_ITEM_CLASS == "IPM.Note.Microsoft.Fax.CA"
    message = email.message_from_bytes(item.mime, policy=email.policy.default)
    assert "sent: 2 page(s)" in str(message["Subject"]) and message["In-Reply-To"] == "<c1@x>"
    assert any(c.operation == "CreateItem" and c.impersonated and c.mailbox == ALICE for c in ews.calls)


def test_a_received_fax_is_created_in_the_users_folder_with_pdf_and_preview(
    store: Store, ews: EwsServer
) -> None:
    cfg = parse_config(
        config(ews).model_dump(exclude={"source"})
        | {
            "users": [
                {"name": "alice", "email": ALICE, "delivery": "exchange", "exchange_folder": "Faxes/In"}
            ]
        }
    )
    fax = store.start_inbound("modem1", caller_number="+12125550199")
    for seq, page in enumerate(fax_pages(3), start=1):
        store.add_inbound_page(fax.id, seq, page)
    store.finish_inbound(fax.id, result="ok", deliver_to=["alice"])
    assert cfg.mail.exchange is not None
    Dispatcher(store, cfg, "test/outbox", exchange=ExchangeDelivery(cfg.mail.exchange)).run_once()
    [item] = ews.mailbox(ALICE).items_in("Faxes/In")  # created on the way
    assert item.item_class == FAX_ITEM_CLASS
    message = email.message_from_bytes(item.mime, policy=email.policy.default)
    types = [p.get_content_type() for p in message.iter_attachments()]
    assert "application/pdf" in types and "image/png" in types
    pdf = next(p for p in message.iter_attachments() if p.get_content_type() == "application/pdf")
    assert len(pypdfium2.PdfDocument(pdf.get_content())) == 3


def test_a_voice_message_is_created_as_a_voicemail_item_with_its_wav(ews: EwsServer) -> None:
    cfg = config(ews)
    assert cfg.mail.exchange is not None
    ExchangeDelivery(cfg.mail.exchange).deliver(ALICE, voice_mail(ALICE, seconds=3.0), folder="Inbox")
    [item] = ews.mailbox(ALICE).items_in("Inbox")
    assert item.item_class == VOICE_ITEM_CLASS == "IPM.Note.Microsoft.Voicemail.UM.CA"
    message = email.message_from_bytes(item.mime, policy=email.policy.default)
    assert message["Message-Context"] == "voice-message" and message["X-VoiceMessageDuration"] == "3"
    [audio] = list(message.iter_attachments())
    assert audio.get_content_type() == "audio/wav" and audio.get_filename() == "voice-12.wav"


def test_restart_between_commit_and_move_makes_one_job_per_message(store: Store, ews: EwsServer) -> None:
    box = ews.mailbox(FAX_BOX)
    for n in range(3):
        box.deliver(fax_mail(to=f"1212555011{n}@fax.example.com", sender=ALICE, subject=f"m{n}"))
    cfg = config(ews)
    ews.failures["MoveItem"] = 1000  # every move fails: accept() commits, the item stays
    first = intake_for(store, cfg)
    first.start()
    try:
        wait_for(lambda: len(store.list_jobs()) >= 1 and first.health().last_error != "")
    finally:
        first.stop()  # "crash": committed, not moved
    committed = len(store.list_jobs())
    assert committed >= 1 and len(box.items_in("Inbox")) == 3
    ews.failures.clear()
    second = intake_for(store, cfg)
    second.start()
    try:
        wait_for(lambda: len(box.items_in("Faxed")) == 3)
    finally:
        second.stop()
    numbers = sorted(j.number for j in store.list_jobs())
    assert numbers == ["+12125550110", "+12125550111", "+12125550112"]  # none lost, none twice


def test_bad_credentials_give_a_clear_error_and_touch_nothing(
    store: Store, ews: EwsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = ews.mailbox(FAX_BOX)
    box.deliver(fax_mail(to="12125550110@fax.example.com", sender=ALICE))
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", "wrong")
    intake = intake_for(store, config(ews))
    with pytest.raises(ConnectorError) as info:
        intake.check()
    assert f"login as {SERVICE} refused ({ews.auth})" in str(info.value)
    assert "wrong" not in str(info.value)
    intake.start()
    try:
        wait_for(lambda: "refused" in intake.health().last_error)
    finally:
        intake.stop()
    assert len(box.items_in("Inbox")) == 1 and store.list_jobs() == []


def test_without_the_impersonation_role_the_error_says_what_to_assign(store: Store, ews: EwsServer) -> None:
    ews.impersonators.clear()
    with pytest.raises(ConnectorError, match="ApplicationImpersonation"):
        intake_for(store, config(ews)).check()


def test_as_a_delegate_the_account_needs_full_access(store: Store, ews: EwsServer) -> None:
    box = ews.mailbox(FAX_BOX)
    box.deliver(fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="Delegated"))
    with pytest.raises(ConnectorError, match="access denied"):
        intake_for(store, config(ews, impersonation=False)).check()
    ews.delegates[SERVICE.lower()] = {FAX_BOX}
    intake = intake_for(store, config(ews, impersonation=False))
    intake.start()
    try:
        wait_for(lambda: subjects(box, "Faxed") == ["Delegated"])
    finally:
        intake.stop()
    assert not any(c.impersonated for c in ews.calls)


def test_an_unauthorised_sender_is_refused_into_the_refused_folder(store: Store, ews: EwsServer) -> None:
    box = ews.mailbox(FAX_BOX)
    box.deliver(fax_mail(to="12125550110@fax.example.com", sender="eve@elsewhere.example", subject="Spam"))
    box.deliver(fax_mail(to="12125550111@fax.example.com", sender=ALICE, subject="Good"))
    intake = intake_for(store, config(ews))
    intake.start()
    try:
        wait_for(lambda: len(box.items_in("Inbox")) == 0)
    finally:
        intake.stop()
    assert subjects(box, "Refused") == ["Spam"] and subjects(box, "Faxed") == ["Good"]
    assert [j.number for j in store.list_jobs()] == ["+12125550111"]


def test_new_items_are_announced_by_pull_subscription_between_rare_full_scans(
    store: Store, ews: EwsServer
) -> None:
    box = ews.mailbox(FAX_BOX)
    intake = intake_for(store, config(ews, full_scan_interval=600))
    intake.start()
    try:
        wait_for(lambda: intake.health().mode == "pull")
        wait_for(lambda: ews.operations().count("GetEvents") >= 3)  # idle: events only, no scans
        scans_idle = ews.operations().count("FindItem")
        box.deliver(fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="Late"))
        wait_for(lambda: subjects(box, "Faxed") == ["Late"])
    finally:
        intake.stop()
    assert scans_idle == 1  # the first scan; the new item was found through its event
    assert ews.operations().count("Subscribe") == 1 and [j.number for j in store.list_jobs()] == [
        "+12125550110"
    ]


def test_a_lost_subscription_is_made_anew_and_nothing_is_missed(store: Store, ews: EwsServer) -> None:
    box = ews.mailbox(FAX_BOX)
    intake = intake_for(store, config(ews, full_scan_interval=600))
    intake.start()
    try:
        wait_for(lambda: ews.operations().count("GetEvents") >= 1)
        with box.lock:
            box.subscriptions.clear()  # e.g. the mailbox server restarted
            box.deliver(fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="After"))
        wait_for(lambda: subjects(box, "Faxed") == ["After"])
    finally:
        intake.stop()
    assert ews.operations().count("Subscribe") >= 2
    assert "ErrorSubscriptionNotFound" in intake.health().last_error


BURST = 200


def burst_site(store: Store, ews: EwsServer, **connector: Any) -> tuple[MailboxState, ExchangeIntake]:
    """A connector idle in pull mode (its first scan done) on an empty fax mailbox."""
    ews.add_user(SERVICE, PASSWORD, "svc-fax@allowed.example", impersonator=True)
    box = ews.mailbox(FAX_BOX)
    intake = intake_for(store, config(ews, full_scan_interval=600, **connector))
    intake.start()
    wait_for(lambda: intake.health().mode == "pull" and ews.operations().count("GetEvents") >= 1)
    return box, intake


def deliver_burst(box: MailboxState, count: int = BURST) -> None:
    """``count`` messages at once (their NewMail events queue up before the next GetEvents)."""
    with box.lock:
        for n in range(count):
            box.deliver(
                fax_mail(
                    to=f"1212555{n:04d}@fax.example.com",
                    sender=ALICE,
                    subject=f"burst {n}",
                    message_id=f"<burst{n}@allowed.example>",
                )
            )


def assert_each_message_one_job(store: Store, box: MailboxState, count: int = BURST) -> None:
    assert box.items_in("Inbox") == [] and len(box.items_in("Faxed")) == count
    jobs = store.list_jobs()
    assert sorted(j.number for j in jobs) == sorted(f"+1212555{n:04d}" for n in range(count))


@pytest.mark.slow
def test_a_burst_is_read_in_pages_each_from_the_last_watermark(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EWS pages events (MoreEvents); every GetEvents must name the last watermark returned.
    Re-sending the first one (exchangelib's Folder.get_events) reads page one forever."""
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", PASSWORD)
    with EwsServer(auth="basic") as ews:
        box, intake = burst_site(store, ews, poll_interval=0.5)
        try:
            before = len(ews.event_reads)
            deliver_burst(box)
            wait_for(
                lambda: len(box.items_in("Faxed")) == BURST or len(ews.event_reads) - before > 100, 120
            )
            wait_for(lambda: sum(r.returned for r in ews.event_reads) >= 2 * BURST, 30)
        finally:
            intake.stop()
        reads = ews.event_reads[before:]
    assert_each_message_one_job(store, box)
    paged = [r for r in reads if r.returned]
    # 200 NewMail events, then 200 Moved events (into Faxed): 4 pages each, each event read once
    assert sum(r.returned for r in paged) == 2 * BURST
    assert len({(r.subscription, r.start) for r in paged}) == len(paged)
    assert len(paged) == 8 and sum(r.more for r in paged) == 6
    assert len(reads) <= len(paged) + 60, len(reads)  # the rest are idle polls every 0.5 s
    assert intake.health().handled == BURST and intake.health().failures == 0


@pytest.mark.slow
def test_a_backlog_longer_than_a_pass_is_left_to_a_full_scan(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``events_per_pass`` events the rest is not read: a new subscription replaces the
    old one and the folder is scanned (which finds every message)."""
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", PASSWORD)
    count = 60
    with EwsServer(auth="basic") as ews:
        ews.events_page = 10
        box, intake = burst_site(store, ews, poll_interval=0.5)
        intake.events_per_pass = 30
        try:
            before, scans = len(ews.event_reads), ews.operations().count("FindItem")
            deliver_burst(box, count)
            wait_for(
                lambda: len(box.items_in("Faxed")) == count or len(ews.event_reads) - before > 100, 120
            )
            wait_for(  # the moves' backlog too, and the scan after it
                lambda: ews.operations().count("Subscribe") >= 3
                and ews.operations().count("FindItem") - scans >= 2,
                30,
            )
        finally:
            intake.stop()
        reads = ews.event_reads[before:]
        operations = ews.operations()
    assert_each_message_one_job(store, box, count)
    paged = [r for r in reads if r.returned]
    assert paged[:3] == [r for r in paged[:3] if r.more] and [r.start for r in paged[:3]] == [0, 10, 20]
    assert len(paged) <= 6  # 3 pages of NewMail events, then (after the scan) 3 of Moved ones
    assert operations.count("Subscribe") == 3 and operations.count("Unsubscribe") == 2
    assert operations.count("FindItem") - scans == 2  # one scan after each backlog


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("exchange intake failed")]


def test_a_huge_library_error_reaches_health_and_logs_bounded(
    store: Store, ews: EwsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Several folders with one name: exchangelib raises MultipleObjectsReturned with the
    repr of every folder found (about 10 kB); /healthz and the log say it in a few hundred."""
    box = ews.mailbox(FAX_BOX)
    top = box.distinguished("msgfolderroot")
    for _ in range(40):
        twin = Folder(f"twin-{len(box.folders)}-{FAX_BOX}", "Faxed", top.id)
        box.folders[twin.id] = twin
    intake = intake_for(store, config(ews))
    with caplog.at_level(logging.DEBUG, logger="umfax.errors"):
        intake.start()
        try:
            wait_for(lambda: len(failures(caplog)) >= 2)  # the same error on every reconnect
        finally:
            intake.stop()
    error = intake.health().as_dict()["last_error"]
    assert len(error) <= MAX_ERROR_TEXT and "\n" not in error
    assert f"mailbox {FAX_BOX}: MultipleObjectsReturned: Expected result length 1, but got [" in error
    for record in failures(caplog):
        line = TextFormatter().format(record)
        assert len(line) < MAX_ERROR_TEXT + 300 and "MultipleObjectsReturned" in line
    details = [r.detail for r in caplog.records if r.name == "umfax.errors"]  # type: ignore[attr-defined]
    assert details and max(len(d) for d in details) > 8_000  # the whole text, at DEBUG only


def test_without_subscriptions_the_folder_is_polled(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", PASSWORD)
    with EwsServer(auth="ntlm", pull=False) as ews:
        ews.add_user(SERVICE, PASSWORD, "svc-fax@allowed.example", impersonator=True)
        box = ews.mailbox(FAX_BOX)
        intake = intake_for(store, config(ews))
        intake.start()
        try:
            wait_for(lambda: intake.health().mode == "poll")
            box.deliver(fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="Polled"))
            wait_for(lambda: subjects(box, "Faxed") == ["Polled"])
        finally:
            intake.stop()
        assert "GetEvents" not in ews.operations()


def test_tls_is_verified_by_default_and_ca_file_trusts_a_private_ca(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", PASSWORD)
    with EwsServer(auth="basic", tls=True) as ews:
        ews.add_user(SERVICE, PASSWORD, "svc-fax@allowed.example", impersonator=True)
        box = ews.mailbox(FAX_BOX)
        box.deliver(fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="Secure"))
        with pytest.raises(ConnectorError, match="TLS certificate not trusted"):
            intake_for(store, config(ews)).check()
        assert ews.calls == []  # nothing was sent to an unverified server
        intake = intake_for(store, config(ews, ca_file=str(ews.ca_file)))
        intake.start()
        try:
            wait_for(lambda: subjects(box, "Faxed") == ["Secure"])
        finally:
            intake.stop()


# -- `umfax serve` end to end: the fake Exchange in this process, the service in its own ----


def serve_site(tmp_path: Path, ews: EwsServer) -> UmfaxSite:
    account = (
        f'url = "{ews.url}"\nauth = "{ews.auth}"\nusername = "{SERVICE.replace(chr(92), chr(92) * 2)}"\n'
        'password_env = "TEST_EWS_PASSWORD"\n'
    )
    return fax_mailbox_site(
        tmp_path,
        kind="exchange",
        account=account,
        mailbox=FAX_BOX,
        user=ALICE,
        env={"TEST_EWS_PASSWORD": PASSWORD},
    )


def fax_contact(number: str, name: str) -> str:
    """How Exchange writes an Outlook fax contact in MIME (IMCEA encapsulation)."""
    encoded = "".join(c if c.isalnum() or c in "-" else f"+{ord(c):02X}" for c in f"{name}@{number}")
    return f'"{name}" <IMCEAFAX-{encoded}@allowed.example>'


def test_serve_faxes_an_outlook_fax_contact_and_reports_into_the_senders_inbox(
    tmp_path: Path, sites: list[UmfaxSite], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", PASSWORD)
    with EwsServer(auth="ntlm") as ews:
        ews.add_user(SERVICE, PASSWORD, "svc-fax@allowed.example", impersonator=True)
        box, alice = ews.mailbox(FAX_BOX), ews.mailbox(ALICE)
        site = serve_site(tmp_path, ews)
        sites.append(site)
        site.start()
        raw = fax_mail(
            to=fax_contact("+1 (212) 555-0110", "Receiver"), sender=ALICE, message_id="<e2e@allowed.example>"
        )
        box.deliver(raw)
        site.wait_for(lambda: bool(alice.items_in("Inbox")), 120, "the report in alice's Inbox")
        [report] = alice.items_in("Inbox")
        assert report.item_class == FAX_ITEM_CLASS
        message = email.message_from_bytes(report.mime, policy=email.policy.default)
        assert "sent" in str(message["Subject"]) and message["In-Reply-To"] == "<e2e@allowed.example>"
        assert box.items_in("Inbox") == [] and len(box.items_in("Faxed")) == 1
        [job] = site.json("jobs")
        assert job["state"] == "sent" and job["recipient_name"] == "Receiver"
        assert job["number"] == "+12125550110"


def test_serve_killed_mid_batch_loses_and_doubles_nothing(
    tmp_path: Path, sites: list[UmfaxSite], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UMFAX_TEST_EWS_PASSWORD", PASSWORD)
    count = 25
    with EwsServer(auth="basic") as ews:
        ews.add_user(SERVICE, PASSWORD, "svc-fax@allowed.example", impersonator=True)
        box = ews.mailbox(FAX_BOX)
        for n in range(count):
            box.deliver(fax_mail(sender=ALICE, subject=f"batch {n}", message_id=f"<b{n}@allowed.example>"))
        site = serve_site(tmp_path, ews)
        sites.append(site)
        db = tmp_path / "data" / "umfax.db"
        taken_before = site.kill_mid_batch()
        assert taken_before < count, "the batch finished before the kill; the test proves nothing"
        site.start()
        site.wait_for(lambda: len(box.items_in("Faxed")) == count, 120, "every item moved")
        assert box.items_in("Inbox") == []
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT message_id FROM mail_messages").fetchall()
            jobs = conn.execute("SELECT count(*), count(DISTINCT subject) FROM jobs").fetchone()
        assert sorted(r[0] for r in rows) == sorted(f"b{n}@allowed.example" for n in range(count))
        assert tuple(jobs) == (count, count)  # one job per message: none lost, none twice
