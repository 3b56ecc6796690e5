"""Reports, received faxes and replies delivered from the outbox: by SMTP to a real
aiosmtpd server, into a real Dovecot mailbox, and into a folder."""

from __future__ import annotations

import email
import email.policy
import io
import wave
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import delete

from connectors.folder import FolderDelivery
from connectors.imap import ImapDelivery
from connectors.mail_out import SmtpSender
from tests.notifications.voice_samples import tone_wav
from tests.servers.dovecot import DovecotServer
from tests.servers.ports import free_port
from umfax.config import Config, parse_config
from umfax.conversion import ConversionOptions, convert_documents
from umfax.lifecycle import FailureCause
from umfax.notifications.dispatch import Dispatcher
from umfax.store import AudioIn, CallOutcome, DocumentIn, JobSpec, PageIn, Store
from umfax.store.models import InboundAudio
from umfax.store.outbox import Notice, OutboxStore


class Recorder:
    """An SMTP server's handler that keeps what it was given, or answers ``reply``."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.reply = "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.reply

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[misc]
            for e in self.envelopes
            if isinstance(e.content, bytes)
        ]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def config(smtp_port: int = 0, tmp: Path | None = None, extra_users: list[Any] = (), **mail: Any) -> Config:  # type: ignore[assignment]
    users = [
        {"name": "ann", "email": "ann@example.com", "delivery": "smtp"},
        {
            "name": "folk",
            "email": "folk@example.com",
            "delivery": "folder",
            "folder": str(tmp or "/nonexistent"),
        },
    ]
    return parse_config(
        {
            "mail": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port or 25, "smtp_tls": "none"} | mail,
            "users": users + list(extra_users),
        }
    )


def dispatcher(store: Store, cfg: Config, **kw: Any) -> Dispatcher:
    return Dispatcher(store, cfg, "test/outbox", smtp=SmtpSender(cfg.mail), **kw)


def fax_pages(n: int) -> list[PageIn]:
    text = "\f".join(f"Received page {i + 1}" for i in range(n))
    pages = convert_documents([("r.txt", text.encode())], ConversionOptions(resolution="standard"))  # type: ignore[arg-type]
    return [PageIn(p.data, p.width, p.length, p.x_res, p.y_res, p.encoding) for p in pages]


def queued_job(store: Store, pages: int, notify: dict[str, str]) -> int:
    """A job converted to real fax pages, waiting for a line."""
    job = store.submit(JobSpec(number="+12125550110", notify=notify), [DocumentIn("a.txt", b"x")])
    claimed = store.claim_conversion("n/1/convert", 60)
    assert claimed is not None
    store.finish_conversion(job.id, "n/1/convert", fax_pages(pages))
    return job.id


def test_a_failed_job_reports_why_threaded_to_the_senders_message(
    store: Store, smtp_server: tuple[Recorder, int]
) -> None:
    recorder, port = smtp_server
    job_id = queued_job(
        store, pages=1, notify={"email": "ann@example.com", "message_id": "orig@client.example"}
    )
    store.fail_job(job_id, None, FailureCause.BAD_DOCUMENT, "scan.heic is not a type we can fax")
    assert dispatcher(store, config(port)).run_once() == 1
    [message] = recorder.messages()
    assert message["To"] == "ann@example.com"
    assert "FAILED" in message["Subject"] and message["In-Reply-To"] == "<orig@client.example>"
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "scan.heic is not a type we can fax" in body and "What to do" in body
    assert [p.get_content_type() for p in message.iter_attachments()] == ["image/png"]
    assert [i.state for i in OutboxStore(store).items()] == ["done"]


def test_a_sent_job_reports_its_calls(store: Store, smtp_server: tuple[Recorder, int]) -> None:
    recorder, port = smtp_server
    queued_job(store, pages=2, notify={"email": "ann@example.com"})
    claim = store.claim_send("n/1/l1", "modem1", 60)
    assert claim is not None
    store.finish_send(
        claim,
        CallOutcome(
            cause=None, pages_sent=2, bit_rate=14400, encoding="mmr", ecm=True, remote_id="+1 212 555 0110"
        ),
    )
    dispatcher(store, config(port)).run_once()
    [message] = recorder.messages()
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "sent: 2 page(s)" in message["Subject"]
    assert "modem1" in body and "14400 bit/s" in body and "MMR ECM" in body and "+1 212 555 0110" in body


def test_refusal_reply_uses_the_null_sender(store: Store, smtp_server: tuple[Recorder, int]) -> None:
    recorder, port = smtp_server
    payload = {
        "kind": "refusal",
        "to": "eve@x.example",
        "reason": "not allowed",
        "subject": "Hi",
        "in_reply_to": "m@x",
    }
    OutboxStore(store).add([Notice("mail:1:refused", "smtp", "eve@x.example", payload)])
    dispatcher(store, config(port)).run_once()
    [envelope] = recorder.envelopes
    assert envelope.mail_from == "<>" or envelope.mail_from == ""
    [message] = recorder.messages()
    assert message["Auto-Submitted"] == "auto-replied" and message["Subject"] == "Fax not sent: Hi"


def test_temporary_failures_retry_and_permanent_ones_are_dead(
    store: Store, smtp_server: tuple[Recorder, int]
) -> None:
    recorder, port = smtp_server
    outbox = OutboxStore(store)
    payload = {"kind": "refusal", "to": "eve@x.example", "reason": "no", "subject": "", "in_reply_to": ""}
    outbox.add([Notice("mail:1:refused", "smtp", "eve@x.example", payload)])
    recorder.reply = "451 4.3.0 try later"
    d = dispatcher(store, config(port))
    d.run_once()
    [item] = outbox.items()
    assert item.state == "pending" and "451" in item.last_error and item.next_at > item.created_at
    outbox.add([Notice("mail:2:refused", "smtp", "bad@x.example", payload | {"to": "bad@x.example"})])
    recorder.reply = "550 5.1.1 no such user"
    d.run_once()
    states = {i.target: i.state for i in outbox.items()}
    assert states == {"eve@x.example": "pending", "bad@x.example": "dead"}


def test_received_fax_lands_in_a_folder_as_mail_and_pdf(store: Store, tmp_path: Path) -> None:
    cfg = config(tmp=tmp_path / "folk")
    fax = store.start_inbound("modem1", caller_number="+12125550199", caller_name="ACME")
    for seq, page in enumerate(fax_pages(2), start=1):
        store.add_inbound_page(fax.id, seq, page)
    store.finish_inbound(fax.id, result="ok", remote_id="ACME FAX", deliver_to=["folk"])
    Dispatcher(store, cfg, "test/outbox", folder=FolderDelivery()).run_once()
    files = sorted(p.suffix for p in (tmp_path / "folk").iterdir())
    assert files == [".eml", ".pdf"]
    pdf = pypdfium2.PdfDocument(next((tmp_path / "folk").glob("*.pdf")).read_bytes())
    assert len(pdf) == 2
    message = email.message_from_bytes(
        next((tmp_path / "folk").glob("*.eml")).read_bytes(), policy=email.policy.default
    )
    assert message["X-Fax-Caller-Number"] == "+12125550199" and message["X-Fax-CSI"] == "ACME FAX"
    assert message["Message-Context"] == "fax-message" and message["X-Fax-Pages"] == "2"


def test_received_fax_is_appended_to_the_users_imap_inbox(
    store: Store, monkeypatch: pytest.MonkeyPatch, dovecot: DovecotServer
) -> None:

    user = dovecot.add_user()
    monkeypatch.setenv("UMFAX_TEST_MASTER", dovecot.master_password)
    imap = {
        "host": dovecot.host,
        "port": dovecot.tls_port,
        "ca_file": str(dovecot.ca_file),
        "username": dovecot.master_user,
        "password_env": "UMFAX_TEST_MASTER",
    }
    cfg = config(imap=imap, extra_users=[{"name": "rx", "email": user.email, "delivery": "imap"}])
    assert cfg.mail.imap is not None
    fax = store.start_inbound("modem1", caller_number="+12125550199")
    for seq, page in enumerate(fax_pages(3), start=1):
        store.add_inbound_page(fax.id, seq, page)
    store.finish_inbound(fax.id, result="ok", deliver_to=["rx"])
    Dispatcher(store, cfg, "test/outbox", imap=ImapDelivery(cfg.mail.imap)).run_once()
    with dovecot.client(user) as client:
        client.select_folder("INBOX")
        [uid] = client.search("ALL")
        raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["X-Fax-Pages"] == "3"
    pdfs = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(pypdfium2.PdfDocument(pdfs[0].get_content())) == 3


def voice_message_for(store: Store, user: str, seconds: float = 4.2) -> int:
    """A voice message stored as the line worker stores one, routed to ``user``."""
    call = store.start_inbound(
        "trunk-1", caller_number="+12125550199", caller_name="Bob Builder", called_number="+12125550100"
    )
    store.finish_inbound(
        call.id, result="ok", kind="voice", audio=AudioIn(tone_wav(seconds), seconds), deliver_to=[user]
    )
    return call.id


def test_a_voice_message_is_appended_to_the_users_imap_inbox_as_voicemail(
    store: Store, monkeypatch: pytest.MonkeyPatch, dovecot: DovecotServer
) -> None:
    user = dovecot.add_user()
    monkeypatch.setenv("UMFAX_TEST_MASTER", dovecot.master_password)
    imap = {
        "host": dovecot.host,
        "port": dovecot.tls_port,
        "ca_file": str(dovecot.ca_file),
        "username": dovecot.master_user,
        "password_env": "UMFAX_TEST_MASTER",
    }
    cfg = config(imap=imap, extra_users=[{"name": "rx", "email": user.email, "delivery": "imap"}])
    assert cfg.mail.imap is not None
    inbound_id = voice_message_for(store, "rx", seconds=4.2)
    d = Dispatcher(store, cfg, "test/outbox", imap=ImapDelivery(cfg.mail.imap))
    assert d.run_once() == 1
    with dovecot.client(user) as client:
        client.select_folder("INBOX")
        [uid] = client.search("ALL")
        raw = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Voice message from Bob Builder (0:04)"
    assert message["Message-Context"] == "voice-message" and message["X-Fax-Id"] == str(inbound_id)
    assert message["X-Voice-Duration"] == "4" and message["X-Fax-Called-Number"] == "+12125550100"
    [outbox] = OutboxStore(store).items()
    assert outbox.state == "done" and message["Message-ID"].startswith(f"<umfax.voice.{outbox.id}.")
    [audio] = list(message.iter_attachments())
    assert audio.get_filename() == f"voice-{inbound_id}.wav"
    with wave.open(io.BytesIO(audio.get_content())) as reader:
        assert abs(reader.getnframes() / reader.getframerate() - 4.2) < 0.01


def test_a_voice_message_lands_in_a_folder_as_mail_and_wav(store: Store, tmp_path: Path) -> None:
    voice_message_for(store, "folk", seconds=1.5)
    Dispatcher(store, config(tmp=tmp_path / "folk"), "test/outbox", folder=FolderDelivery()).run_once()
    assert sorted(p.suffix for p in (tmp_path / "folk").iterdir()) == [".eml", ".wav"]
    with wave.open(str(next((tmp_path / "folk").glob("*.wav")))) as reader:
        assert reader.getnframes() == 1.5 * reader.getframerate()


def test_a_voice_message_whose_audio_is_gone_is_not_retried(store: Store, tmp_path: Path) -> None:
    inbound_id = voice_message_for(store, "folk")
    with store.writing() as session:
        session.execute(delete(InboundAudio).where(InboundAudio.inbound_id == inbound_id))
    Dispatcher(store, config(tmp=tmp_path / "folk"), "test/outbox", folder=FolderDelivery()).run_once()
    [item] = OutboxStore(store).items()
    assert item.state == "dead" and "has no audio" in item.last_error


def test_a_voice_message_is_sent_by_smtp_as_it_is(store: Store, smtp_server: tuple[Recorder, int]) -> None:
    recorder, port = smtp_server
    inbound_id = voice_message_for(store, "ann", seconds=2.0)
    assert dispatcher(store, config(port)).run_once() == 1
    [envelope] = recorder.envelopes
    assert envelope.rcpt_tos == ["ann@example.com"]
    [message] = recorder.messages()
    assert message["Message-Context"] == "voice-message" and message["X-Fax-Id"] == str(inbound_id)
    [audio] = list(message.iter_attachments())
    assert audio.get_content_type() == "audio/wav" and audio.get_content() == tone_wav(2.0)


def test_a_received_fax_forwarded_from_the_console_is_mailed_to_the_address(
    store: Store, smtp_server: tuple[Recorder, int]
) -> None:
    """The inbox's "Forward by email": the fax as PDF to the typed address; each forward
    sends again; a console user (no [[users]] entry) gets delivery notices without dead letters."""
    from umfax.store.accounts import AccountStore
    from umfax.store.console_inbox import InboxStore

    recorder, port = smtp_server
    cfg = config(port)
    AccountStore(store, cfg).create("cleo", "cleo@example.com")
    fax = store.start_inbound("modem1", caller_number="+12125550199", caller_name="ACME")
    for seq, page in enumerate(fax_pages(2), start=1):
        store.add_inbound_page(fax.id, seq, page)
    store.finish_inbound(fax.id, result="ok", remote_id="ACME FAX", deliver_to=["cleo"])
    InboxStore(store).forward_by_email(fax.id, "accounts@partner.example")
    InboxStore(store).forward_by_email(fax.id, "accounts@partner.example")
    dispatcher(store, cfg).run_once()
    assert [e.rcpt_tos for e in recorder.envelopes] == [["accounts@partner.example"]] * 2
    message = recorder.messages()[0]
    assert message["To"] == "accounts@partner.example" and message["X-Fax-CSI"] == "ACME FAX"
    pdfs = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(pypdfium2.PdfDocument(pdfs[0].get_content())) == 2
    assert {item.state for item in OutboxStore(store).items()} == {"done"}
