"""The Microsoft Graph connector against a fake Graph + Entra ID token endpoint
(tests/servers/graph.py) over HTTPS, driven by the real msal and requests: the OpenID
discovery, the client secret and bearer tokens really checked, mailbox state kept; the
store on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pypdfium2
import pytest

from connectors.exchange import FAX_ITEM_CLASS, VOICE_ITEM_CLASS
from connectors.graph import GraphDelivery, GraphIntake
from tests.mail import corpus
from tests.mailflow.messages import fax_mail
from tests.mailflow.test_dispatch import fax_pages
from tests.notifications.voice_samples import tone_wav, voice_mail
from tests.servers.graph import GraphServer
from tests.servers.umfax_site import UmfaxSite, fax_mailbox_site
from umfax.config import Config, GraphConnectorConfig, parse_config
from umfax.errors import ConnectorError
from umfax.mail.intake import MailIntake
from umfax.notifications.dispatch import Dispatcher
from umfax.store import CallOutcome, Store
from umfax.store.connector_state import ConnectorStateStore

CLIENT_ID = "6f1c2a9e-0b7d-4c1e-9a55-3d2f1e0c7b11"
SECRET = "Graph~Secret.2026"
FAX_BOX = "fax@allowed.example"
ALICE = "alice@allowed.example"


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphServer]:
    monkeypatch.setenv("UMFAX_TEST_GRAPH_SECRET", SECRET)
    with GraphServer(CLIENT_ID, SECRET) as server:
        server.mailbox(FAX_BOX)
        yield server


def app(graph: GraphServer) -> dict[str, Any]:
    """The app registration's keys, as in [[connectors]] and [mail.graph]."""
    return {
        "tenant_id": graph.tenant,
        "client_id": CLIENT_ID,
        "client_secret_env": "UMFAX_TEST_GRAPH_SECRET",
        "authority_host": graph.authority,
        "graph_url": graph.graph_url,
        "ca_file": str(graph.ca_file),
    }


def config(graph: GraphServer, *, delivery: str = "smtp", **connector: Any) -> Config:
    return parse_config(
        {
            "mail": {"fax_domains": list(corpus.FAX_DOMAINS), "graph": app(graph)},
            "connectors": [
                {
                    "type": "graph",
                    "name": "graph:fax",
                    "mailbox": FAX_BOX,
                    "allowed_senders": ["@allowed.example"],
                    "poll_interval": 0.1,
                    "refusal_replies": False,
                }
                | app(graph)
                | connector
            ],
            "users": [{"name": "alice", "email": ALICE, "delivery": delivery}],
        }
    )


def intake_for(store: Store, cfg: Config, *, positions: bool = True) -> GraphIntake:
    connector = cfg.connectors[0]
    assert isinstance(connector, GraphConnectorConfig)
    store.sync_users([("alice", ALICE, "Alice", None, True)])
    mail = MailIntake(store, cfg, connector, connector.label)
    kept = ConnectorStateStore(store, connector.label) if positions else None
    return GraphIntake(connector, mail.accept, positions=kept, backoff_start=0.05)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_outlook_fax_contacts_become_jobs_and_messages_move_after_commit(
    store: Store, graph: GraphServer
) -> None:
    box = graph.mailbox(FAX_BOX)
    graph.deliver(FAX_BOX, corpus.message("outlook_2016_imceafax"))
    graph.deliver(
        FAX_BOX, fax_mail(to='"Bob" <[FAX:Bob Builder@+1 (212) 555-0110]>', sender=ALICE, subject="B")
    )
    graph.deliver(FAX_BOX, fax_mail(to="12125550113@fax.example.com", sender=ALICE, subject="C"))
    graph.throttle["delta"] = 1  # a 429 with Retry-After first
    intake = intake_for(store, config(graph))
    intake.start()
    try:
        wait_for(lambda: len(box.raws_in("Faxed")) == 3)
        graph.revoke()  # the token expires: one new token, and on
        graph.deliver(FAX_BOX, fax_mail(to="12125550114@fax.example.com", sender=ALICE, subject="D"))
        wait_for(lambda: len(box.raws_in("Faxed")) == 4)
    finally:
        intake.stop()
    jobs = sorted((j.number, j.recipient_name, j.sender) for j in store.list_jobs())
    assert jobs == [
        ("+12125550110", "Bob Builder", ALICE),
        ("+12125550111", "Jane Doe", ALICE),
        ("+12125550112", "Acme Billing", ALICE),
        ("+12125550113", "", ALICE),
        ("+12125550114", "", ALICE),
    ]
    assert box.raws_in("Inbox") == [] and box.raws_in("Refused") == []
    assert box.subjects_in("Faxed") == ["B", "C", "D", "Invoice 7781 and site photo"]
    paths = [(m, p) for m, p, _ in graph.calls]
    assert ("POST", f"/v1.0/users/{FAX_BOX}/mailFolders") in paths  # Faxed and Refused created
    assert any(p.endswith("/messages/delta") and s == 429 for _, p, s in graph.calls)
    assert sum(1 for m, p, _ in graph.calls if p.endswith("/oauth2/v2.0/token")) == 2
    assert any(p.endswith("/$value") for _, p in paths)
    health = intake.health().as_dict()
    assert health["handled"] == 4 and health["failures"] == 0


def test_an_unauthorised_sender_is_refused_into_the_refused_folder(store: Store, graph: GraphServer) -> None:
    box = graph.mailbox(FAX_BOX)
    graph.deliver(
        FAX_BOX, fax_mail(to="12125550110@fax.example.com", sender="eve@elsewhere.example", subject="S")
    )
    graph.deliver(FAX_BOX, fax_mail(to="12125550111@fax.example.com", sender=ALICE, subject="Good"))
    intake = intake_for(store, config(graph))
    intake.start()
    try:
        wait_for(lambda: box.raws_in("Inbox") == [])
    finally:
        intake.stop()
    assert box.subjects_in("Refused") == ["S"] and box.subjects_in("Faxed") == ["Good"]
    assert [j.number for j in store.list_jobs()] == ["+12125550111"]


def test_a_wrong_secret_gives_a_clear_error_and_touches_nothing(
    store: Store, graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = graph.mailbox(FAX_BOX)
    graph.deliver(FAX_BOX, fax_mail(to="12125550110@fax.example.com", sender=ALICE))
    monkeypatch.setenv("UMFAX_TEST_GRAPH_SECRET", "wrong-secret")
    intake = intake_for(store, config(graph))
    with pytest.raises(ConnectorError) as info:
        intake.check()
    message = str(info.value)
    assert f"token for client {CLIENT_ID}" in message and "invalid_client" in message
    assert "UMFAX_TEST_GRAPH_SECRET" in message and "wrong-secret" not in message
    intake.start()
    try:
        wait_for(lambda: "invalid_client" in intake.health().last_error)
    finally:
        intake.stop()
    assert len(box.raws_in("Inbox")) == 1 and store.list_jobs() == []
    assert all(p.startswith(f"/{graph.tenant}/") for _, p, _ in graph.calls)  # Graph never reached


def test_restart_between_commit_and_move_makes_one_job_per_message(store: Store, graph: GraphServer) -> None:
    box = graph.mailbox(FAX_BOX)
    for n in range(3):
        graph.deliver(FAX_BOX, fax_mail(to=f"1212555011{n}@fax.example.com", sender=ALICE, subject=f"m{n}"))
    cfg = config(graph)
    graph.failures["move"] = 1000  # every move fails (503): accept() commits, the message stays
    first = intake_for(store, cfg)
    first.start()
    try:
        wait_for(lambda: len(store.list_jobs()) >= 1 and first.health().last_error != "")
    finally:
        first.stop()  # "crash": committed, not moved
    assert len(store.list_jobs()) >= 1 and len(box.raws_in("Inbox")) == 3
    graph.failures.clear()
    second = intake_for(store, cfg)
    second.start()
    try:
        wait_for(lambda: len(box.raws_in("Faxed")) == 3)
    finally:
        second.stop()
    numbers = sorted(j.number for j in store.list_jobs())
    assert numbers == ["+12125550110", "+12125550111", "+12125550112"]  # none lost, none twice


def test_the_delta_link_is_kept_so_a_restart_asks_only_for_changes(store: Store, graph: GraphServer) -> None:
    box = graph.mailbox(FAX_BOX)
    graph.deliver(FAX_BOX, fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="first"))
    cfg = config(graph)
    first = intake_for(store, cfg)
    first.start()
    try:
        wait_for(lambda: box.subjects_in("Faxed") == ["first"])
        wait_for(lambda: ConnectorStateStore(store, "graph:fax").get(f"delta:{box.folder_id('Inbox')}") != "")
    finally:
        first.stop()
    graph.calls.clear()
    graph.deliver(FAX_BOX, fax_mail(to="12125550111@fax.example.com", sender=ALICE, subject="second"))
    second = intake_for(store, cfg)
    second.start()
    try:
        wait_for(lambda: box.subjects_in("Faxed") == ["first", "second"])
    finally:
        second.stop()
    deltas = [p for m, p, _ in graph.calls if p.endswith("/messages/delta")]
    assert deltas, "no delta query after the restart"
    fetched = [p for _, p, _ in graph.calls if p.endswith("/$value")]
    assert len(fetched) == 1  # only the new message: the first was not listed again
    assert sorted(j.number for j in store.list_jobs()) == ["+12125550110", "+12125550111"]


def test_an_expired_delta_link_starts_a_full_listing_and_misses_nothing(
    store: Store, graph: GraphServer
) -> None:
    box = graph.mailbox(FAX_BOX)
    cfg = config(graph)
    first = intake_for(store, cfg)
    first.start()
    try:
        wait_for(lambda: ConnectorStateStore(store, "graph:fax").get(f"delta:{box.folder_id('Inbox')}") != "")
    finally:
        first.stop()
    graph.forget_deltas()  # Graph answers 410 SyncStateNotFound to the kept link
    graph.deliver(FAX_BOX, fax_mail(to="12125550112@fax.example.com", sender=ALICE, subject="late"))
    second = intake_for(store, cfg)
    second.start()
    try:
        wait_for(lambda: box.subjects_in("Faxed") == ["late"])
    finally:
        second.stop()
    assert any(p.endswith("/messages/delta") and s == 410 for _, p, s in graph.calls)
    assert [j.number for j in store.list_jobs()] == ["+12125550112"]


def test_tls_is_verified_by_default_and_ca_file_trusts_a_private_ca(store: Store, graph: GraphServer) -> None:
    graph.deliver(FAX_BOX, fax_mail(to="12125550110@fax.example.com", sender=ALICE, subject="Secure"))
    with pytest.raises(ConnectorError, match="not trusted; set ca_file"):
        intake_for(store, config(graph, ca_file=None)).check()
    assert graph.calls == []  # nothing, not even the secret, went to an unverified server
    intake_for(store, config(graph)).check()
    assert graph.calls != []


def test_the_report_lands_in_the_senders_inbox_as_a_fax_item(store: Store, graph: GraphServer) -> None:
    box = graph.mailbox(FAX_BOX)
    alice = graph.mailbox(ALICE)
    graph.deliver(
        FAX_BOX,
        fax_mail(
            to='"Bob" <[FAX:Bob Builder@+1 (212) 555-0110]>',
            sender=ALICE,
            subject="Contract",
            message_id="<g1@x>",
        ),
    )
    cfg = config(graph, delivery="graph")
    intake = intake_for(store, cfg)
    intake.start()
    try:
        wait_for(lambda: len(box.raws_in("Faxed")) == 1)
    finally:
        intake.stop()
    [job] = store.list_jobs()
    assert (job.number, job.recipient_name) == ("+12125550110", "Bob Builder")
    assert store.claim_conversion("n/1/convert", 60) is not None
    store.finish_conversion(job.id, "n/1/convert", fax_pages(2))
    claim = store.claim_send("n/1/l1", "modem1", 60)
    assert claim is not None
    store.finish_send(claim, CallOutcome(cause=None, pages_sent=2, bit_rate=14400, encoding="mmr", ecm=True))
    assert cfg.mail.graph is not None
    delivery = GraphDelivery(cfg.mail.graph)
    try:
        assert Dispatcher(store, cfg, "test/outbox", graph=delivery).run_once() == 1
    finally:
        delivery.close()
    [report] = alice.in_folder("Inbox")
    assert "sent: 2 page(s)" in report.subject and not report.is_draft
    assert report.extended("String 0x001A") == FAX_ITEM_CLASS
    assert report.resource["toRecipients"][0]["emailAddress"]["address"] == ALICE
    assert report.resource["body"]["content"].count("Bob Builder") >= 1
    assert [a.content_type for a in report.attachments] == ["image/png"]  # the first page


def test_a_received_fax_is_created_in_the_users_folder_with_pdf_and_preview(
    store: Store, graph: GraphServer
) -> None:
    graph.mailbox(ALICE)
    cfg = parse_config(
        config(graph, delivery="graph").model_dump(exclude={"source"})
        | {"users": [{"name": "alice", "email": ALICE, "delivery": "graph", "graph_folder": "Faxes"}]}
    )
    fax = store.start_inbound("modem1", caller_number="+12125550199")
    for seq, page in enumerate(fax_pages(3), start=1):
        store.add_inbound_page(fax.id, seq, page)
    store.finish_inbound(fax.id, result="ok", deliver_to=["alice"])
    assert cfg.mail.graph is not None
    delivery = GraphDelivery(cfg.mail.graph)
    try:
        assert Dispatcher(store, cfg, "test/outbox", graph=delivery).run_once() == 1
    finally:
        delivery.close()
    [item] = graph.mailbox(ALICE).in_folder("Faxes")  # created on the way
    assert item.extended("String 0x001A") == FAX_ITEM_CLASS and not item.is_draft
    pdf = next(a for a in item.attachments if a.content_type == "application/pdf")
    assert len(pypdfium2.PdfDocument(pdf.content)) == 3
    assert any(a.content_type == "image/png" for a in item.attachments)


def test_a_voice_message_is_created_as_a_voicemail_item_that_plays_its_wav(graph: GraphServer) -> None:
    graph.mailbox(ALICE)
    cfg = config(graph, delivery="graph")
    assert cfg.mail.graph is not None
    delivery = GraphDelivery(cfg.mail.graph)
    try:
        delivery.deliver(ALICE, voice_mail(ALICE, seconds=3.0))
    finally:
        delivery.close()
    [item] = graph.mailbox(ALICE).in_folder("Inbox")
    assert item.extended("String 0x001A") == VOICE_ITEM_CLASS and not item.is_draft
    assert item.subject == "Voice message from Bob Builder (0:03)"
    assert item.extended("Integer 0x6801") == "3"  # PidTagVoiceMessageDuration
    assert item.extended("String 0x6802") == "+12125550199"  # PidTagSenderTelephoneNumber
    assert item.extended("String 0x6803") == "Bob Builder"  # PidTagVoiceMessageSenderName
    assert item.extended("String 0x6805") == "voice-12.wav"  # PidTagVoiceMessageAttachmentOrder
    [audio] = item.attachments
    assert (audio.name, audio.content_type, audio.content) == ("voice-12.wav", "audio/wav", tone_wav(3.0))


def test_a_large_attachment_goes_through_an_upload_session(graph: GraphServer) -> None:
    graph.mailbox(ALICE)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "fax@allowed.example", ALICE, "Fax, 60 fine pages"
    message["Date"] = "Sun, 22 Nov 2026 15:00:00 +0000"
    message.set_content("A long fax.")
    big = os.urandom(7 * 1024 * 1024 + 123)  # incompressible: more than 4 MB in any one request
    small = b"%PDF-1.4 small"
    message.add_attachment(big, maintype="application", subtype="pdf", filename="fax-long.pdf")
    message.add_attachment(small, maintype="application", subtype="pdf", filename="cover.pdf")
    cfg = config(graph, delivery="graph")
    assert cfg.mail.graph is not None
    delivery = GraphDelivery(cfg.mail.graph)
    try:
        delivery.deliver(ALICE, bytes(message))
    finally:
        delivery.close()
    [item] = graph.mailbox(ALICE).in_folder("Inbox")
    assert {a.name: a.content for a in item.attachments} == {"fax-long.pdf": big, "cover.pdf": small}
    assert item.resource["singleValueExtendedProperties"][2] == {
        "id": "SystemTime 0x0E06",
        "value": "2026-11-22T15:00:00Z",
    }
    uploads = [s for m, p, s in graph.calls if m == "PUT" and p.startswith("/upload/")]
    assert len(uploads) == 3 and uploads[-1] == 201  # 7 MB in 3.1 MB chunks
    assert all(s < 400 for _, _, s in graph.calls)


# -- `umfax serve` end to end: the fake Graph in this process, the service in its own -------


def serve_site(tmp_path: Path, graph: GraphServer) -> UmfaxSite:
    account = (
        f'tenant_id = "{graph.tenant}"\nclient_id = "{CLIENT_ID}"\nclient_secret_env = "TEST_GRAPH_SECRET"\n'
        f'authority_host = "{graph.authority}"\ngraph_url = "{graph.graph_url}"\n'
        f'ca_file = "{graph.ca_file}"\n'
    )
    return fax_mailbox_site(
        tmp_path,
        kind="graph",
        account=account,
        mailbox=FAX_BOX,
        user=ALICE,
        env={"TEST_GRAPH_SECRET": SECRET},
    )


def test_serve_killed_mid_batch_loses_and_doubles_nothing_and_reports_reach_the_sender(
    tmp_path: Path, sites: list[UmfaxSite]
) -> None:
    count = 12
    with GraphServer(CLIENT_ID, SECRET) as graph:
        box, alice = graph.mailbox(FAX_BOX), graph.mailbox(ALICE)
        for n in range(count):
            raw = fax_mail(
                to='"Bob" <IMCEAFAX-Bob+20Builder+40+2B1+20+28212+29+20555-0110@allowed.example>'
                if n == 0
                else "12125550110@fax.example.com",  # the simulator's answering fax
                sender=ALICE,
                subject=f"batch {n}",
                message_id=f"<g{n}@allowed.example>",
            )
            graph.deliver(FAX_BOX, raw)
        site = serve_site(tmp_path, graph)
        sites.append(site)
        db = tmp_path / "data" / "umfax.db"
        taken_before = site.kill_mid_batch()
        assert taken_before < count, "the batch finished before the kill; the test proves nothing"
        site.start()
        site.wait_for(lambda: len(box.in_folder("Faxed")) == count, 120, "every message moved")
        site.wait_for(
            lambda: len(alice.in_folder("Inbox")) == count, 180, "a report per fax in alice's Inbox"
        )
        assert box.in_folder("Inbox") == []
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT message_id FROM mail_messages").fetchall()
            jobs = conn.execute("SELECT count(*), count(DISTINCT subject) FROM jobs").fetchone()
            bob = conn.execute("SELECT number, recipient_name FROM jobs WHERE subject = 'batch 0'").fetchone()
        assert sorted(r[0] for r in rows) == sorted(f"g{n}@allowed.example" for n in range(count))
        assert tuple(jobs) == (count, count)  # one job per message: none lost, none twice
        assert tuple(bob) == ("+12125550110", "Bob Builder")
        reports = alice.in_folder("Inbox")
        assert all(r.extended("String 0x001A") == FAX_ITEM_CLASS and not r.is_draft for r in reports)
        assert sum("sent" in r.subject for r in reports) == count
