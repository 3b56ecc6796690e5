"""Mail to jobs through the one intake path, on every store backend."""

from __future__ import annotations

import pytest

from tests.mailflow.messages import DOMAIN, fax_mail
from umfax.config import Config, parse_config
from umfax.mail.intake import MailIntake, MailRef, Outcome
from umfax.store import Store
from umfax.store.outbox import OutboxStore

ALLOWED = "@example.com"


def config(**connector: object) -> Config:
    return parse_config(
        {
            "mail": {"fax_domains": [DOMAIN], "smtp_host": "127.0.0.1", "replies_per_hour": 2},
            "connectors": [
                {
                    "type": "imap",
                    "name": "faxbox",
                    "host": "127.0.0.1",
                    "tls": "none",
                    "username": "fax",
                    "password_env": "UNUSED",
                    "allowed_senders": [ALLOWED, "partner@other.example"],
                }
                | connector
            ],
            "users": [{"name": "ann", "email": "ann@example.com", "pin_env": "UMFAX_TEST_PIN_ANN"}],
        }
    )


def intake(store: Store, **connector: object) -> MailIntake:
    cfg = config(**connector)
    store.sync_users([("ann", "ann@example.com", "Ann", None, True)])
    return MailIntake(store, cfg, cfg.connectors[0], "imap:faxbox")


REF = MailRef("imap:faxbox", "fax@h/INBOX", 3, 1)


def test_one_job_per_fax_recipient_with_names_documents_and_cover(store: Store) -> None:
    raw = fax_mail(
        to=[
            f'"Bob Builder" <12125550110@{DOMAIN}>',
            "colleague@example.com",
            "[FAX:Carol@+1 (212) 555-0111]",
        ],
        body="Please sign page 2.",
    )
    result = intake(store).accept(raw, REF)
    assert result.outcome is Outcome.QUEUED and len(result.job_ids) == 2
    jobs = [store.get_job(j) for j in result.job_ids]
    assert [(j.number, j.recipient_name) for j in jobs] == [
        ("+12125550110", "Bob Builder"),
        ("+12125550111", "Carol"),
    ]
    assert all(j.comments == "Please sign page 2." and j.sender == "ann@example.com" for j in jobs)
    assert [d.filename for d in store.documents(jobs[0].id)] == ["contract.pdf"]
    assert jobs[0].notify["email"] == "ann@example.com" and jobs[0].notify["message_id"]
    assert jobs[0].user_id is not None  # ann is a configured user


def test_a_message_seen_again_is_a_duplicate_by_position_or_message_id(store: Store) -> None:
    mail = intake(store)
    raw = fax_mail(message_id="<same@example.com>")
    first = mail.accept(raw, REF)
    again = mail.accept(raw, REF)  # e.g. a crash between commit and flag
    moved = mail.accept(raw, MailRef("imap:faxbox", "fax@h/INBOX", 3, 99))  # same Message-ID elsewhere
    assert again.outcome is moved.outcome is Outcome.DUPLICATE
    assert again.job_ids == moved.job_ids == first.job_ids
    assert len(store.list_jobs()) == 1


def test_text_only_mail_is_faxed_as_a_page_and_body_page_mode(store: Store) -> None:
    result = intake(store).accept(fax_mail(attach=False, body="Short note by fax."), REF)
    [doc] = store.documents(result.job_ids[0])
    assert doc.filename == "message.txt" and doc.data == b"Short note by fax."
    paged = intake(store, body="page").accept(
        fax_mail(message_id="<p@example.com>"), REF.__class__("x", "m", 1, 2)
    )
    assert [d.filename for d in store.documents(paged.job_ids[0])] == ["message.txt", "contract.pdf"]


def test_unknown_sender_is_refused_once_with_a_rate_limited_reply(store: Store) -> None:
    mail = intake(store)
    results = [
        mail.accept(fax_mail(sender="eve@elsewhere.example"), MailRef("r", "", 0, 0)) for _ in range(4)
    ]
    assert {r.outcome for r in results} == {Outcome.REFUSED}
    assert "eve@elsewhere.example is not allowed" in results[0].reason
    replies = OutboxStore(store).items()
    assert [r.target for r in replies] == ["eve@elsewhere.example"] * 2  # replies_per_hour = 2
    assert replies[0].payload["kind"] == "refusal" and replies[0].payload["in_reply_to"]
    assert store.list_jobs() == []


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "auto-replied"}, {"Return-Path": "<>"}, {"Precedence": "bulk"}],
    ids=["auto-submitted", "bounce", "bulk"],
)
def test_never_reply_to_automatic_mail(store: Store, headers: dict[str, str]) -> None:
    result = intake(store).accept(fax_mail(sender="eve@elsewhere.example", headers=headers), REF)
    assert result.outcome is Outcome.REFUSED
    assert OutboxStore(store).items() == []


def test_forged_sender_is_refused_without_reply_when_authentication_is_required(store: Store) -> None:
    mail = intake(store, require_authentication=True, authserv_id="mx.example.com")
    forged = fax_mail(
        headers={
            "Authentication-Results": "mx.example.com; spf=fail smtp.mailfrom=evil.example; "
            "dkim=none; dmarc=fail header.from=example.com"
        }
    )
    result = mail.accept(forged, REF)
    assert result.outcome is Outcome.REFUSED and "could not be verified" in result.reason
    assert OutboxStore(store).items() == []  # never reply to a forged address
    # the same claim from another server's header counts for nothing
    other = fax_mail(
        message_id="<o@example.com>", headers={"Authentication-Results": "evil.example; dmarc=pass"}
    )
    assert mail.accept(other, MailRef("r", "", 0, 0)).outcome is Outcome.REFUSED
    genuine = fax_mail(
        message_id="<g@example.com>",
        headers={
            "Authentication-Results": "mx.example.com; dkim=pass header.d=example.com header.s=s1; dmarc=pass"
        },
    )
    assert mail.accept(genuine, MailRef("r", "", 0, 0)).outcome is Outcome.QUEUED


def test_invalid_mail_says_why(store: Store) -> None:
    mail = intake(store)
    no_fax = mail.accept(fax_mail(to="bob@example.com"), MailRef("r", "", 0, 0))
    assert no_fax.outcome is Outcome.INVALID and f"NUMBER@{DOMAIN}" in no_fax.reason
    empty = mail.accept(fax_mail(attach=False, body="", message_id="<e@example.com>"), MailRef("r", "", 0, 0))
    assert empty.outcome is Outcome.INVALID and "nothing to fax" in empty.reason
    premium = mail.accept(
        fax_mail(to=f"19005550100@{DOMAIN}", message_id="<p@example.com>"), MailRef("r", "", 0, 0)
    )
    assert premium.outcome is Outcome.INVALID and "premium" in premium.reason.lower()
    assert store.list_jobs() == []


def test_some_bad_recipients_fax_the_rest_and_tell_the_sender(store: Store) -> None:
    result = intake(store).accept(fax_mail(to=[f"12125550110@{DOMAIN}", f"19005550100@{DOMAIN}"]), REF)
    assert result.outcome is Outcome.QUEUED and len(result.job_ids) == 1
    [notice] = OutboxStore(store).items()
    assert notice.payload["kind"] == "partial" and "19005550100" in notice.payload["reason"]


def test_pin_in_the_subject(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UMFAX_TEST_PIN_ANN", "4321")
    mail = intake(store, require_pin=True)
    wrong = mail.accept(fax_mail(subject="Contract PIN 1111"), MailRef("r", "", 0, 0))
    assert wrong.outcome is Outcome.REFUSED and "PIN" in wrong.reason
    right = mail.accept(
        fax_mail(subject="PIN 4321 Contract", message_id="<r@example.com>"), MailRef("r", "", 0, 0)
    )
    assert right.outcome is Outcome.QUEUED
    assert store.get_job(right.job_ids[0]).subject == "Contract"  # the PIN is not faxed on the cover


def test_rcpt_check(store: Store) -> None:
    mail = intake(store)
    assert mail.check_recipient(f"12125550110@{DOMAIN}") is None
    assert mail.check_recipient("IMCEAFAX-Bob+40+2B1+20212+20555+200110@example.com") is None
    assert "not a fax address" in (mail.check_recipient("bob@example.com") or "")
    assert "premium" in (mail.check_recipient(f"19005550100@{DOMAIN}") or "").lower()


def test_garbage_is_recorded_as_invalid_not_a_crash(store: Store) -> None:
    result = intake(store).accept(b"\x00\xff" * 100 + b"\r\n\r\n--", REF)
    assert result.outcome is Outcome.INVALID and "no sender" in result.reason
    assert store.list_jobs() == [] and OutboxStore(store).items() == []


def test_smtp_refusals_are_told_by_the_relays_bounce_not_a_reply(store: Store) -> None:
    cfg = parse_config(
        {
            "mail": {"fax_domains": [DOMAIN], "smtp_host": "127.0.0.1"},
            "connectors": [{"type": "smtp", "allowed_senders": [ALLOWED]}],
        }
    )
    mail = MailIntake(store, cfg, cfg.connectors[0], "smtp:relay")
    ref = MailRef("smtp:relay", envelope_from="eve@elsewhere.example", envelope_to=(f"12125550110@{DOMAIN}",))
    assert mail.accept(fax_mail(sender="eve@elsewhere.example"), ref).outcome is Outcome.REFUSED
    assert OutboxStore(store).items() == []
