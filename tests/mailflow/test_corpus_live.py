"""The whole message corpus (tests/mail/corpus/: Outlook, Gmail, Apple Mail, S/MIME,
forwarded mail, and the hostile ones: no attachment, a zip of PDFs, a 50 MB attachment,
malformed MIME, a forged sender, bounces) through the live connectors with the real
core: APPENDed to a real Dovecot for the IMAP connector, and sent over SMTP to the
aiosmtpd listener.  Each message must end the way a fax server should end it."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from connectors.imap import ImapIntake
from connectors.smtp import SmtpIntake
from tests.mail import corpus
from tests.servers.dovecot import DovecotServer, ImapUser
from tests.servers.ports import free_port
from umfax.config import Config, parse_config
from umfax.mail.intake import MailIntake
from umfax.store import Store, open_store
from umfax.store.models import Job, MailMessage

PASSWORD_ENV = "UMFAX_TEST_CORPUS_PASSWORD"

#: How each message must end: the outcome, and how many jobs (one per fax recipient).
#: With the sender checks below: only @allowed.example may fax, and only with
#: Authentication-Results from mx.allowed.example that pass.
EXPECTED: dict[str, tuple[str, int]] = {
    "outlook_365": ("queued", 1),
    "outlook_2016_imceafax": ("queued", 2),
    "outlook_winmail": ("invalid", 0),  # TNEF: told to send as HTML or plain text
    "gmail": ("refused", 0),  # not an allowed sender
    "apple_mail": ("queued", 1),
    "apple_mail_html": ("queued", 1),
    "thunderbird_flowed": ("queued", 1),
    "html_only": ("queued", 1),
    "long_lines": ("queued", 1),
    "rfc2231_filename": ("queued", 1),  # to Germany: international numbers are allowed here
    "forwarded_eml": ("queued", 1),
    "fax_forms": ("queued", 6),
    "subject_number": ("queued", 1),
    "bcc_only": ("invalid", 0),  # IMAP sees no recipient (SMTP does: see SMTP_DIFFERS)
    "smime_signed": ("queued", 1),
    "smime_opaque": ("queued", 1),
    "smime_encrypted": ("invalid", 0),
    "no_attachment": ("queued", 1),  # the body is the fax
    "zip_of_pdfs": ("invalid", 0),
    "malformed_no_boundary": ("queued", 1),
    "malformed_unterminated": ("queued", 1),
    "malformed_encodings": ("queued", 1),
    "forged_sender": ("refused", 0),
    "bounce": ("refused", 0),
    "auto_reply": ("invalid", 0),
    "huge_attachment": ("invalid", 0),
}
#: Over SMTP the envelope names the recipients: a Bcc is seen; Outlook's native forms
#: ("[FAX:Jane Doe@+1 (212) 555-0111]") are not SMTP addresses (Exchange relays them as
#: IMCEAFAX-...), so of fax_forms only FAX=... and NUMBER@domain pass RCPT; and a relay
#: must name a fax address at RCPT, so a number in the subject only works by mailbox.
SMTP_DIFFERS = {"bcc_only": ("queued", 1), "fax_forms": ("queued", 2), "subject_number": ("invalid", 0)}


def test_the_expectations_cover_the_corpus() -> None:
    assert set(EXPECTED) == set(corpus.NAMES)


def core_config(tmp_path: Path, connector: dict[str, Any]) -> Config:
    return parse_config(
        {
            "server": {"data_dir": str(tmp_path / "data")},
            "dial_rules": {"allow_international": True},
            "mail": {"fax_domains": list(corpus.FAX_DOMAINS), "replies_per_hour": 0},
            "connectors": [
                {
                    "name": "live",
                    "allowed_senders": [f"@{corpus.ALLOWED_DOMAIN}"],
                    "require_authentication": True,
                    "authserv_id": corpus.AUTHSERV_ID,
                    **connector,
                }
            ],
        }
    )


def outcomes(store: Store) -> dict[str, tuple[str, int]]:
    """What the store recorded per message, keyed by subject."""
    with store.reading() as session:
        rows = list(session.query(MailMessage))
    return {row.subject: (row.outcome, len(row.job_ids)) for row in rows}


@pytest.fixture
def store_for() -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def folder_count(client: IMAPClient, folder: str) -> int:
    if not client.folder_exists(folder):
        return 0
    client.select_folder(folder, readonly=True)
    return len(client.search("ALL"))


def test_corpus_through_imap(
    tmp_path: Path,
    private_dovecot: DovecotServer,
    store_for: list[Store],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dovecot = private_dovecot
    box: ImapUser = dovecot.add_user("fax@example.test")
    monkeypatch.setenv(PASSWORD_ENV, box.password)
    config = core_config(
        tmp_path,
        {
            "type": "imap",
            "host": dovecot.host,
            "port": dovecot.tls_port,
            "ca_file": str(dovecot.ca_file),
            "username": box.name,
            "password_env": PASSWORD_ENV,
            "poll_interval": 60,
        },
    )
    store = open_store(config)
    store_for.append(store)
    connector = config.connectors[0]
    subjects = {}
    with dovecot.client(box) as client:
        for name in corpus.NAMES:
            raw = corpus.message(name)
            client.append("INBOX", raw)
            subjects[name] = corpus.sample(name).expected.subject
    intake = ImapIntake(connector, MailIntake(store, config, connector, connector.label).accept)  # type: ignore[arg-type]
    intake.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(outcomes(store)) < len(corpus.NAMES):
            time.sleep(0.2)
        # the last message is moved just after its commit
        with dovecot.client(box) as client:
            while time.monotonic() < deadline and folder_count(client, "INBOX"):
                time.sleep(0.2)
            left, faxed, refused = (folder_count(client, f) for f in ("INBOX", "Faxed", "Refused"))
    finally:
        intake.stop()
    seen = outcomes(store)
    got = {name: seen.get(subjects[name]) for name in corpus.NAMES}
    assert got == EXPECTED
    queued = sum(1 for outcome, _ in EXPECTED.values() if outcome == "queued")
    assert (left, faxed, refused) == (0, queued, len(corpus.NAMES) - queued)
    with store.reading() as session:
        assert session.query(Job).count() == sum(jobs for _, jobs in EXPECTED.values())


def test_corpus_through_smtp(tmp_path: Path, store_for: list[Store]) -> None:
    config = core_config(
        tmp_path, {"type": "smtp", "listen": f"127.0.0.1:{free_port()}", "max_message_size": 30 * 2**20}
    )
    store = open_store(config)
    store_for.append(store)
    connector = config.connectors[0]
    mail = MailIntake(store, config, connector, connector.label)
    listener = SmtpIntake(
        connector,  # type: ignore[arg-type]
        check_recipient=mail.check_recipient,
        accept=mail.accept,
        hostname="fax-gw.example.com",
    )
    listener.start()
    replies: dict[str, tuple[int, bytes]] = {}
    try:
        for name in corpus.NAMES:
            sample = corpus.sample(name)
            with smtplib.SMTP("127.0.0.1", listener.port, timeout=60) as client:
                client.ehlo("mx.allowed.example")
                code, text = client.mail(sample.mail_from, [f"SIZE={len(sample.raw)}"])
                if code != 250:
                    replies[name] = (code, text)
                    continue
                accepted = [r for r in sample.rcpt if client.rcpt(r)[0] == 250]
                if not accepted:
                    replies[name] = (550, b"no fax recipient")
                    continue
                replies[name] = client.data(sample.raw)
    finally:
        listener.stop()
    expected = EXPECTED | SMTP_DIFFERS
    seen = outcomes(store)
    for name in corpus.NAMES:
        code, text = replies[name]
        outcome, jobs = expected[name]
        recorded = seen.get(corpus.sample(name).expected.subject)
        if outcome == "queued":
            assert code == 250 and recorded == (outcome, jobs), (name, code, text, recorded)
        else:
            # permanent: the relay bounces with our reason; nothing queued
            assert 500 <= code < 600 and recorded in (None, (outcome, 0)), (name, code, text, recorded)
    assert replies["huge_attachment"][0] == 552  # refused at MAIL FROM by its declared SIZE
    assert b"encrypted" in replies["smime_encrypted"][1] and b"zip" in replies["zip_of_pdfs"][1]
    with store.reading() as session:
        assert session.query(Job).count() == sum(j for o, j in expected.values() if o == "queued")
