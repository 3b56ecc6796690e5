"""``umfax serve`` with a real Dovecot: a fax mailbox in, a report in the sender's
mailbox out; and a crash in the middle of a batch neither loses nor doubles a message."""

from __future__ import annotations

import email
import email.policy
import os
import sqlite3
from pathlib import Path

from tests.mailflow.messages import DOMAIN, fax_mail
from tests.servers.dovecot import DovecotServer, ImapUser
from tests.servers.ports import free_port
from tests.servers.umfax_site import UmfaxSite, site_toml
from umfax.config import load_config
from umfax.mail.intake import MailIntake, MailRef, Outcome
from umfax.store import open_store


def mail_site(
    tmp_path: Path,
    dovecot: DovecotServer,
    fax: ImapUser,
    ann: ImapUser,
    *,
    ann_extra: str = "",
    extra: str = "",
) -> UmfaxSite:
    config = tmp_path / "umfax.toml"
    smtp_port = free_port()
    config.write_text(
        site_toml(tmp_path)
        + f"""
[mail]
fax_domains = ["{DOMAIN}"]
from_address = "fax@example.test"
[mail.imap]
host = "{dovecot.host}"
port = {dovecot.tls_port}
ca_file = "{dovecot.ca_file}"
username = "{dovecot.master_user}"
password_env = "TEST_MASTER_PASSWORD"
[[connectors]]
type = "imap"
name = "faxbox"
host = "{dovecot.host}"
port = {dovecot.tls_port}
ca_file = "{dovecot.ca_file}"
username = "{fax.name}"
password_env = "TEST_FAX_PASSWORD"
allowed_senders = ["@example.test"]
[[connectors]]
type = "smtp"
listen = "127.0.0.1:{smtp_port}"
allowed_senders = ["@example.test"]
[[users]]
name = "ann"
email = "{ann.name}"
delivery = "imap"
{ann_extra}
{extra}
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("UMFAX_")}
    env |= {"TEST_MASTER_PASSWORD": dovecot.master_password, "TEST_FAX_PASSWORD": fax.password}
    return UmfaxSite(tmp_path, config, env)


def messages_in(dovecot: DovecotServer, user: ImapUser, folder: str) -> list[email.message.EmailMessage]:
    with dovecot.client(user) as client:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [
        email.message_from_bytes(fetched[uid][b"BODY[]"], policy=email.policy.default)  # type: ignore[misc]
        for uid in sorted(fetched)
    ]


def test_mail_to_the_fax_mailbox_is_faxed_and_reported(
    tmp_path: Path, private_dovecot: DovecotServer, sites: list[UmfaxSite]
) -> None:
    dovecot = private_dovecot
    fax, ann = dovecot.add_user("fax@example.test"), dovecot.add_user("ann@example.test")
    site = mail_site(tmp_path, dovecot, fax, ann)
    sites.append(site)
    site.start()
    raw = fax_mail(to=f'"Receiver" <12125550110@{DOMAIN}>', sender=ann.name, message_id="<m1@example.test>")
    with dovecot.client(fax) as client:
        client.append("INBOX", raw)
    site.wait_for(lambda: bool(messages_in(dovecot, ann, "INBOX")), 120, "the report in ann's INBOX")
    [report] = messages_in(dovecot, ann, "INBOX")
    assert "sent" in report["Subject"] and report["In-Reply-To"] == "<m1@example.test>"
    assert messages_in(dovecot, fax, "INBOX") == []  # moved after commit
    assert len(messages_in(dovecot, fax, "Faxed")) == 1
    [job] = site.json("jobs")
    assert job["state"] == "sent" and job["recipient_name"] == "Receiver"


def test_kill_9_mid_batch_loses_and_doubles_nothing(
    tmp_path: Path, private_dovecot: DovecotServer, sites: list[UmfaxSite]
) -> None:
    dovecot = private_dovecot
    fax, ann = dovecot.add_user("fax@example.test"), dovecot.add_user("ann@example.test")
    site = mail_site(tmp_path, dovecot, fax, ann)
    sites.append(site)
    count = 40
    with dovecot.client(fax) as client:
        for n in range(count):
            client.append(
                "INBOX", fax_mail(sender=ann.name, subject=f"batch {n}", message_id=f"<b{n}@example.test>")
            )
    db = tmp_path / "data" / "umfax.db"
    taken_before = site.kill_mid_batch()
    assert taken_before < count, "the batch finished before the kill; the test proves nothing"
    site.start()
    site.wait_for(lambda: len(messages_in(dovecot, fax, "Faxed")) == count, 120, "every message moved")
    assert messages_in(dovecot, fax, "INBOX") == []
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT message_id, job_ids FROM mail_messages").fetchall()
        jobs = conn.execute("SELECT count(*), count(DISTINCT subject) FROM jobs").fetchone()
    assert sorted(r[0] for r in rows) == sorted(f"b{n}@example.test" for n in range(count))
    assert tuple(jobs) == (count, count)  # one job per message: none lost, none twice


def test_committed_but_not_moved_is_not_faxed_again(
    tmp_path: Path, private_dovecot: DovecotServer, sites: list[UmfaxSite]
) -> None:
    dovecot = private_dovecot
    """The window a crash can hit: jobs committed, message not yet moved.  Commit the
    message's jobs as the connector would, then start the service on that store."""
    fax, ann = dovecot.add_user("fax@example.test"), dovecot.add_user("ann@example.test")
    site = mail_site(tmp_path, dovecot, fax, ann)
    sites.append(site)
    raw = fax_mail(sender=ann.name, message_id="<once@example.test>")
    with dovecot.client(fax) as client:
        client.append("INBOX", raw)
        uidvalidity = client.select_folder("INBOX")[b"UIDVALIDITY"]
        [uid] = client.search("ALL")
    config = load_config(site.config)
    os.environ["TEST_FAX_PASSWORD"] = fax.password  # not read by accept; for symmetry with serve
    store = open_store(config)
    connector = config.connectors[0]
    ref = MailRef(connector.label, f"{fax.name}@{dovecot.host}/INBOX", int(uidvalidity), int(uid))
    first = MailIntake(store, config, connector, connector.label).accept(raw, ref)
    assert first.outcome is Outcome.QUEUED
    store.close()
    site.start()
    site.wait_for(lambda: len(messages_in(dovecot, fax, "Faxed")) == 1, 60, "the message moved")
    assert [job["id"] for job in site.json("jobs")] == list(first.job_ids)


LINE1, LINE2 = "+12125550100", "+12125550101"  # the two simulated lines of the default config


def received_faxes(messages: list[email.message.EmailMessage]) -> list[email.message.EmailMessage]:
    return [m for m in messages if m["X-Fax-Id"]]


def test_fax_to_a_users_number_arrives_in_their_mailbox(
    tmp_path: Path, private_dovecot: DovecotServer, sites: list[UmfaxSite]
) -> None:
    """A call to ann's fax number (the second simulated line) is received, routed to ann
    by her number, and APPENDed to her INBOX with the PDF, a preview and the call's facts."""
    dovecot = private_dovecot
    fax, ann = dovecot.add_user("fax@example.test"), dovecot.add_user("ann@example.test")
    site = mail_site(tmp_path, dovecot, fax, ann, ann_extra=f'fax_numbers = ["{LINE2}"]')
    sites.append(site)
    site.start()
    document = tmp_path / "letter.txt"
    document.write_text("Page one\n\fPage two\n")
    site.cli("send", LINE2, str(document), "--no-cover")
    site.wait_for(
        lambda: bool(received_faxes(messages_in(dovecot, ann, "INBOX"))), 180, "the fax in ann's INBOX"
    )
    [message] = received_faxes(messages_in(dovecot, ann, "INBOX"))
    assert message["X-Fax-Pages"] == "2" and message["X-Fax-Status"] == "received"
    assert message["X-Fax-Called-Number"] == LINE2 and message["X-Fax-Caller-Number"] == LINE1
    assert message["X-Fax-Line"] == "sim2"
    kinds = [part.get_content_type() for part in message.iter_attachments()]
    assert kinds == ["application/pdf", "image/png"]
    [inbound] = site.json("inbox")
    assert inbound["state"] == "received" and inbound["pages"] == 2


def test_junk_caller_is_quarantined_and_not_delivered(
    tmp_path: Path, private_dovecot: DovecotServer, sites: list[UmfaxSite]
) -> None:
    dovecot = private_dovecot
    fax, ann = dovecot.add_user("fax@example.test"), dovecot.add_user("ann@example.test")
    site = mail_site(
        tmp_path,
        dovecot,
        fax,
        ann,
        ann_extra=f'fax_numbers = ["{LINE2}"]',
        extra=f'[routing.junk]\ncallers = ["{LINE1}"]\naction = "quarantine"',
    )
    sites.append(site)
    site.start()
    document = tmp_path / "offer.txt"
    document.write_text("Cheap holidays\n")
    site.cli("send", LINE2, str(document), "--no-cover")
    site.wait_for(lambda: any(f["state"] == "quarantined" for f in site.json("inbox")), 180, "quarantine")
    [inbound] = site.json("inbox")
    assert inbound["pages"] == 1 and "routing.junk.callers" in inbound["message"]
    assert received_faxes(messages_in(dovecot, ann, "INBOX")) == []


def test_junk_caller_is_not_answered(
    tmp_path: Path, private_dovecot: DovecotServer, sites: list[UmfaxSite]
) -> None:
    """action = "reject": the call from a junk caller ID rings out unanswered; nothing is
    received, and the rejection is in the event log."""
    dovecot = private_dovecot
    fax, ann = dovecot.add_user("fax@example.test"), dovecot.add_user("ann@example.test")
    site = mail_site(
        tmp_path,
        dovecot,
        fax,
        ann,
        ann_extra=f'fax_numbers = ["{LINE2}"]',
        extra=f'[routing.junk]\ncallers = ["{LINE1}"]',  # action = "reject" is the default
    )
    sites.append(site)
    site.start()
    document = tmp_path / "offer.txt"
    document.write_text("Cheap holidays\n")
    site.cli("send", LINE2, str(document), "--no-cover")
    site.wait_for(lambda: site.json("jobs")[0]["last_cause"] is not None, 180, "the call to end")
    [job] = site.json("jobs")
    assert job["last_cause"] == "no_answer", job
    assert site.json("inbox") == []
    assert "junk call not answered" in site.logs()
