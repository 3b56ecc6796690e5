"""ImapIntake against a real Dovecot (tests/servers/dovecot.py).

``accept`` is a recording function here: the connector's contract is what is tested
(exact bytes, MailRef, nothing marked read or moved before accept returns, retries);
the end-to-end tests with the real core live elsewhere.

This module: TLS and login, and what each outcome does to the mail (folders, flags,
retries).  Waiting for mail and reconnecting: test_imap_watch.py; delivery:
test_imap_delivery.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from connectors.imap import DONE_KEYWORD, REFUSED_KEYWORD, ImapIntake
from tests.connectors.imap_helpers import (
    PASSWORD_ENV,
    SEEN,
    TOKEN_ENV,
    Recorder,
    Stored,
    append,
    contents,
    intake_config,
    message,
    running,
    wait_until,
)
from tests.servers.dovecot import DovecotServer, ImapUser, make_ca
from umfax.errors import ConfigError, ConnectorError, StoreError
from umfax.mail.intake import MailRef, Outcome

# -- intake: TLS and login ---------------------------------------------------------------------


def test_implicit_tls_hands_over_exact_bytes_and_moves_only_after_accept(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    raw = message("exact bytes")
    inbox_during_accept: list[dict[int, Stored]] = []
    faxed_during_accept: list[dict[int, Stored]] = []

    def during(_raw: bytes, _ref: MailRef) -> None:
        inbox_during_accept.append(contents(dovecot, mail_user, "INBOX"))
        faxed_during_accept.append(contents(dovecot, mail_user, "Faxed"))

    recorder = Recorder(during=during)
    config = intake_config(dovecot, mail_user)
    intake = ImapIntake(config, recorder)
    with running(intake):
        wait_until(lambda: intake.health().connected, what="connected")
        appended = append(dovecot, mail_user, raw)
        [call] = recorder.wait_for(1)
        assert call.raw == raw
        assert call.ref == MailRef(
            connector=config.label,
            mailbox=f"{mail_user.name}@127.0.0.1/INBOX",
            uidvalidity=appended.uidvalidity,
            uid=appended.uid,
        )
        # while accept() ran: still in INBOX, unread, nowhere else
        assert list(inbox_during_accept[0]) == [appended.uid]
        assert SEEN not in inbox_during_accept[0][appended.uid].flags
        assert faxed_during_accept[0] == {}
        faxed = wait_until(lambda: contents(dovecot, mail_user, "Faxed"), what="moved to Faxed")
        assert contents(dovecot, mail_user, "INBOX") == {}
        [stored] = faxed.values()
        assert stored.raw == raw
        assert SEEN not in stored.flags  # the user still sees it as new
        health = intake.health()
        assert health.connected and health.mode == "idle" and health.handled == 1
        assert health.last_poll is not None and health.last_error == ""
        json.dumps(health.as_dict())
    assert len(recorder.calls) == 1


def test_starttls_flag_mode_sets_keyword_after_accept_and_keeps_mail_in_place(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    first = append(dovecot, mail_user, message("waiting before start"))
    flags_during: list[frozenset[bytes]] = []

    def during(_raw: bytes, ref: MailRef) -> None:
        flags_during.append(contents(dovecot, mail_user)[ref.uid].flags)

    recorder = Recorder(during=during)
    intake = ImapIntake(intake_config(dovecot, mail_user, tls="starttls", processed="flag"), recorder)
    with running(intake):
        recorder.wait_for(1)
        second = append(dovecot, mail_user, message("after start"))
        calls = recorder.wait_for(2)
        assert [c.ref.uid for c in calls] == [first.uid, second.uid]

        def both_flagged() -> bool:
            inbox = contents(dovecot, mail_user)
            return all(DONE_KEYWORD.encode() in s.flags for s in inbox.values()) and len(inbox) == 2

        wait_until(both_flagged, what="keyword on both messages")
        time.sleep(0.5)  # a flagged message is not handed over again
        assert len(recorder.calls) == 2
    for flags in flags_during:
        assert DONE_KEYWORD.encode() not in flags and SEEN not in flags
    for stored in contents(dovecot, mail_user).values():
        assert SEEN not in stored.flags and REFUSED_KEYWORD.encode() not in stored.flags


def test_a_read_message_is_still_handed_over(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    """\\Seen is not our marker: someone reading the fax mailbox must not lose a fax."""
    raw = message("read by a person first")
    with dovecot.client(mail_user) as imap:
        imap.append("INBOX", raw, flags=[SEEN])
    recorder = Recorder()
    with running(ImapIntake(intake_config(dovecot, mail_user, processed="flag"), recorder)):
        [call] = recorder.wait_for(1)
    assert call.raw == raw


def test_wrong_ca_fails_clearly(
    dovecot: DovecotServer, mail_user: ImapUser, password: str, tmp_path: Path
) -> None:
    append(dovecot, mail_user, message("never read"))
    other = make_ca(tmp_path, "unrelated CA")
    for tls in ("implicit", "starttls"):
        intake = ImapIntake(intake_config(dovecot, mail_user, tls=tls, ca_file=other.cert_file), Recorder())
        with pytest.raises(ConnectorError, match="certificate not trusted") as info:
            intake.check()
        assert password not in str(info.value)
    # the system's CAs do not know the test CA either
    with pytest.raises(ConnectorError, match="certificate not trusted"):
        ImapIntake(intake_config(dovecot, mail_user, ca_file=None), Recorder()).check()
    # a running intake keeps failing, says why, and reads nothing
    recorder = Recorder()
    intake = ImapIntake(intake_config(dovecot, mail_user, ca_file=other.cert_file), recorder)
    with running(intake):
        wait_until(lambda: "certificate" in intake.health().last_error, what="the TLS error in health")
        assert not intake.health().connected
    assert recorder.calls == []
    # verification off (explicitly) does connect
    ImapIntake(intake_config(dovecot, mail_user, ca_file=None, tls_verify=False), Recorder()).check()


def test_login_errors_are_plain_and_never_show_the_password(
    dovecot: DovecotServer, mail_user: ImapUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password-" + mail_user.password)
    with pytest.raises(ConnectorError, match=r"login as .* refused") as info:
        ImapIntake(intake_config(dovecot, mail_user), Recorder()).check()
    assert mail_user.password not in str(info.value)
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(ConfigError, match=PASSWORD_ENV):
        ImapIntake(intake_config(dovecot, mail_user), Recorder()).check()


def test_xoauth2_login(dovecot: DovecotServer, mail_user: ImapUser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, dovecot.oauth_token(mail_user))
    config = intake_config(dovecot, mail_user, oauth_token_env=TOKEN_ENV)
    raw = message("by token")
    append(dovecot, mail_user, raw)
    recorder = Recorder()
    with running(ImapIntake(config, recorder)):
        [call] = recorder.wait_for(1)
    assert call.raw == raw
    monkeypatch.setenv(TOKEN_ENV, "not-a-valid-token")
    with pytest.raises(ConnectorError, match="refused") as info:
        ImapIntake(config, Recorder()).check()
    assert "not-a-valid-token" not in str(info.value)


# -- intake: outcomes and failures ----------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "jobs", "folder"),
    [
        (Outcome.REFUSED, False, "Fax/Refused"),
        (Outcome.INVALID, False, "Fax/Refused"),
        (Outcome.DUPLICATE, True, "Fax/Done"),
        (Outcome.DUPLICATE, False, "Fax/Refused"),  # seen before and refused then
    ],
)
def test_outcome_decides_the_folder(
    dovecot: DovecotServer, mail_user: ImapUser, password: str, outcome: Outcome, jobs: bool, folder: str
) -> None:
    raw = message(f"outcome {outcome.value}")
    append(dovecot, mail_user, raw)
    config = intake_config(dovecot, mail_user, processed_folder="Fax/Done", refused_folder="Fax/Refused")
    intake = ImapIntake(config, Recorder(outcome, jobs=jobs))
    with running(intake):
        # the first connection of a session (TLS, login, folders created) can take seconds on
        # a loaded machine: the test is about where the message goes, not how fast
        moved = wait_until(
            lambda: contents(dovecot, mail_user, folder), timeout=20, what=f"message in {folder}"
        )
    assert [s.raw for s in moved.values()] == [raw]
    assert contents(dovecot, mail_user, "INBOX") == {}
    other = "Fax/Done" if folder == "Fax/Refused" else "Fax/Refused"
    assert contents(dovecot, mail_user, other) == {}

    def subscribed() -> list[str]:
        with dovecot.client(mail_user) as imap:
            return [name for _flags, _sep, name in imap.list_sub_folders()]

    # created folders are subscribed, so that mail clients show them
    wait_until(lambda: folder in subscribed(), timeout=10, what=f"{folder} subscribed")


def test_an_existing_unsubscribed_folder_is_subscribed_when_used(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    with dovecot.client(mail_user) as imap:
        imap.create_folder("Fax/Refused")  # made by hand (or by a session that died): not subscribed
        assert imap.list_sub_folders("", "Fax/Refused") == []
    append(dovecot, mail_user, message("refused into an existing folder"))
    config = intake_config(dovecot, mail_user, processed_folder="Fax/Done", refused_folder="Fax/Refused")
    with running(ImapIntake(config, Recorder(Outcome.REFUSED))):
        wait_until(lambda: contents(dovecot, mail_user, "Fax/Refused"), timeout=20, what="message moved")
    with dovecot.client(mail_user) as imap:
        assert [name for _flags, _sep, name in imap.list_sub_folders("", "Fax/Refused")] == ["Fax/Refused"]


def test_flag_mode_marks_refused_mail(dovecot: DovecotServer, mail_user: ImapUser, password: str) -> None:
    append(dovecot, mail_user, message("refused in flag mode"))
    intake = ImapIntake(intake_config(dovecot, mail_user, processed="flag"), Recorder(Outcome.REFUSED))
    with running(intake):

        def flagged() -> frozenset[bytes] | None:
            [stored] = contents(dovecot, mail_user).values()
            return stored.flags if DONE_KEYWORD.encode() in stored.flags else None

        flags = wait_until(flagged, what="keyword")
    assert REFUSED_KEYWORD.encode() in flags and SEEN not in flags


def test_flag_mode_without_keywords_uses_flagged_and_seen(
    dovecot: DovecotServer, mail_user: ImapUser, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose PERMANENTFLAGS lack \\* takes no keyword: \\Flagged + \\Seen mark it."""
    original = IMAPClient.select_folder

    def without_keywords(self: IMAPClient, folder: str, readonly: bool = False) -> dict[bytes, Any]:
        info: dict[bytes, Any] = original(self, folder, readonly)
        info[b"PERMANENTFLAGS"] = tuple(f for f in info.get(b"PERMANENTFLAGS", ()) if f != b"\\*")
        return info

    monkeypatch.setattr(IMAPClient, "select_folder", without_keywords)
    unread = append(dovecot, mail_user, message("unread"))
    with dovecot.client(mail_user) as imap:
        imap.append("INBOX", message("read by a person"), flags=[SEEN])
    recorder = Recorder()
    with running(ImapIntake(intake_config(dovecot, mail_user, processed="flag"), recorder)):
        recorder.wait_for(2)

        def all_marked() -> bool:
            return all({b"\\Flagged", SEEN} <= s.flags for s in contents(dovecot, mail_user).values())

        wait_until(all_marked, what="\\Flagged and \\Seen on both")
        time.sleep(0.3)
    assert len(recorder.calls) == 2 and recorder.calls[0].ref.uid == unread.uid
    for stored in contents(dovecot, mail_user).values():
        assert DONE_KEYWORD.encode() not in stored.flags


@pytest.mark.parametrize("idle", [True, False])
def test_a_recreated_folder_has_new_positions(
    dovecot: DovecotServer, mail_user: ImapUser, password: str, idle: bool
) -> None:
    with dovecot.client(mail_user) as imap:
        imap.create_folder("FaxIn")
    first = append(dovecot, mail_user, message("one"), folder="FaxIn")
    recorder = Recorder()
    # During a long IDLE, Dovecot may say nothing about a folder replaced under it (it
    # watches the old directory); the connector notices at the latest when it renews
    # IDLE, every idle_timeout.
    config = intake_config(dovecot, mail_user, folder="FaxIn", idle=idle, poll_interval=0.3, idle_timeout=2)
    intake = ImapIntake(config, recorder, backoff_start=0.2)
    with running(intake):
        recorder.wait_for(1)
        wait_until(lambda: contents(dovecot, mail_user, "Faxed"), what="the first message moved")
        with dovecot.client(mail_user) as imap:
            imap.delete_folder("FaxIn")
            imap.create_folder("FaxIn")
        second = append(dovecot, mail_user, message("two"), folder="FaxIn")
        calls = recorder.wait_for(2, timeout=10)
        health = intake.health()
    assert second.uidvalidity != first.uidvalidity
    assert (calls[0].ref.uidvalidity, calls[0].ref.uid) == (first.uidvalidity, first.uid)
    assert calls[1].ref == MailRef(
        connector=config.label,
        mailbox=f"{mail_user.name}@127.0.0.1/FaxIn",
        uidvalidity=second.uidvalidity,
        uid=second.uid,
    )
    assert health.uidvalidity == second.uidvalidity


def test_accept_failure_leaves_the_message_and_retries_with_backoff(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    raw = message("store down for a while")
    appended = append(dovecot, mail_user, raw)

    def fail(_raw: bytes, _ref: MailRef) -> Exception | None:
        return StoreError("database unavailable") if len(recorder.calls) <= 2 else None

    recorder = Recorder(fail=fail)
    intake = ImapIntake(intake_config(dovecot, mail_user), recorder, backoff_start=0.3)
    with running(intake):
        recorder.wait_for(1)
        time.sleep(0.1)
        inbox = contents(dovecot, mail_user)
        assert list(inbox) == [appended.uid]
        assert SEEN not in inbox[appended.uid].flags
        assert contents(dovecot, mail_user, "Faxed") == {}
        assert "database unavailable" in intake.health().last_error
        calls = recorder.wait_for(3, timeout=5)
        wait_until(lambda: contents(dovecot, mail_user, "Faxed"), what="moved after the retries")
        health = intake.health()
    assert {c.ref.uid for c in calls} == {appended.uid}
    assert all(c.raw == raw for c in calls)
    assert calls[1].at - calls[0].at >= 0.25  # backoff, not a busy loop
    assert calls[2].at - calls[1].at >= 0.5  # and it grows
    assert health.failures == 2 and health.handled == 1 and health.retrying == 0
    assert health.connected  # a failing accept() is not a connection problem


def test_a_message_that_always_fails_does_not_block_the_others(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    poison = message("poison")

    def fail(raw: bytes, _ref: MailRef) -> Exception | None:
        return ValueError("a bug in the parser") if b"Subject: poison" in raw else None

    recorder = Recorder(fail=fail)
    poisoned = append(dovecot, mail_user, poison)
    append(dovecot, mail_user, message("good one"))
    intake = ImapIntake(intake_config(dovecot, mail_user), recorder, backoff_start=0.2)
    with running(intake):
        wait_until(lambda: len(contents(dovecot, mail_user, "Faxed")) == 1, what="first good message moved")
        append(dovecot, mail_user, message("good two"))
        wait_until(lambda: len(contents(dovecot, mail_user, "Faxed")) == 2, what="second good message moved")
        wait_until(lambda: sum(c.ref.uid == poisoned.uid for c in recorder.calls) >= 2, what="a retry")
        health = intake.health()
    inbox = contents(dovecot, mail_user)
    assert list(inbox) == [poisoned.uid]
    assert SEEN not in inbox[poisoned.uid].flags and inbox[poisoned.uid].raw == poison
    assert health.retrying == 1 and health.handled == 2 and "a bug in the parser" in health.last_error
