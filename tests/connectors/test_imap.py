"""ImapIntake and ImapDelivery against a real Dovecot (tests/servers/dovecot.py).

``accept`` is a recording function here: the connector's contract is what is tested
(exact bytes, MailRef, nothing marked read or moved before accept returns, retries);
the end-to-end tests with the real core live elsewhere.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from connectors.imap import DONE_KEYWORD, REFUSED_KEYWORD, AppendUid, ImapDelivery, ImapIntake
from tests.servers.dovecot import DovecotServer, ImapUser, make_ca
from tests.servers.ports import free_port
from umfax.config import ImapConnectorConfig, ImapDeliveryConfig
from umfax.errors import ConfigError, ConnectorError, StoreError
from umfax.mail.intake import IntakeResult, MailRef, Outcome

PASSWORD_ENV = "UMFAX_TEST_IMAP_PASSWORD"
TOKEN_ENV = "UMFAX_TEST_IMAP_TOKEN"
ADMIN_ENV = "UMFAX_TEST_IMAP_ADMIN_PASSWORD"
SEEN = b"\\Seen"
_counter = iter(range(1, 1_000_000))


# -- helpers -----------------------------------------------------------------------------------


def message(subject: str = "Fax", body: str = "Please fax the attached page.") -> bytes:
    """A message as a mail client sends it: CRLF, a base64 attachment, trailing blanks."""
    n = next(_counter)
    return (
        f"From: Alice Sender <alice@example.test>\r\n"
        f"To: 12125550110@fax.example.test\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <imap-test-{n}-{time.monotonic_ns()}@example.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}   \r\n"
        "--b1\r\n"
        'Content-Type: application/pdf; name="page.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8PC9Sb290IDEgMCBSPj4K\r\n"
        "--b1--\r\n"
    ).encode()


@dataclass(frozen=True)
class Call:
    raw: bytes
    ref: MailRef
    at: float  # time.monotonic()


class Recorder:
    """A stand-in for the core's accept(): records each call and answers ``outcome``.

    ``fail(raw, ref)`` may return an exception to raise instead; ``during(raw, ref)``
    runs inside the call (to look at the mailbox before accept has returned).
    """

    def __init__(
        self,
        outcome: Outcome = Outcome.QUEUED,
        *,
        fail: Callable[[bytes, MailRef], Exception | None] | None = None,
        during: Callable[[bytes, MailRef], None] | None = None,
        jobs: bool | None = None,
    ) -> None:
        self.outcome = outcome
        self.fail = fail
        self.during = during
        self.jobs = outcome in (Outcome.QUEUED, Outcome.DUPLICATE) if jobs is None else jobs
        self.calls: list[Call] = []
        self._cond = threading.Condition()

    def __call__(self, raw: bytes, ref: MailRef) -> IntakeResult:
        at = time.monotonic()
        if self.during is not None:
            self.during(raw, ref)
        with self._cond:
            self.calls.append(Call(raw, ref, at))
            n = len(self.calls)
            self._cond.notify_all()
        error = self.fail(raw, ref) if self.fail is not None else None
        if error is not None:
            raise error
        return IntakeResult(self.outcome, (n,) if self.jobs else (), "test")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Call]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.calls) >= count, timeout):
                pytest.fail(f"accept() called {len(self.calls)} times within {timeout} s, expected {count}")
            return list(self.calls)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.03)


def intake_config(server: DovecotServer, user: ImapUser, **overrides: Any) -> ImapConnectorConfig:
    tls = overrides.pop("tls", "implicit")
    data: dict[str, Any] = {
        "type": "imap",
        "host": server.host,
        "port": server.tls_port if tls == "implicit" else server.port,
        "username": user.name,
        "password_env": PASSWORD_ENV,
        "tls": tls,
        "ca_file": server.ca_file,
        "poll_interval": 60,
        "reconnect_max": 2,
    }
    data.update(overrides)
    if "oauth_token_env" in overrides:
        data["password_env"] = ""
    return ImapConnectorConfig.model_validate(data)


@contextmanager
def running(intake: ImapIntake) -> Iterator[ImapIntake]:
    intake.start()
    try:
        yield intake
    finally:
        intake.stop()


def append(server: DovecotServer, user: ImapUser, raw: bytes, folder: str = "INBOX") -> AppendUid:
    with server.client(user) as imap:
        response = imap.append(folder, raw)
    match = re.search(rb"\[APPENDUID (\d+) (\d+)\]", response)
    assert match is not None, response
    return AppendUid(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Stored:
    flags: frozenset[bytes]
    raw: bytes


def contents(server: DovecotServer, user: ImapUser, folder: str = "INBOX") -> dict[int, Stored]:
    """The messages of a folder, read without changing anything."""
    with server.client(user) as imap:
        if folder != "INBOX" and not imap.folder_exists(folder):
            return {}
        imap.select_folder(folder, readonly=True)
        uids = imap.search(["ALL"])
        if not uids:
            return {}
        data = imap.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
        return {uid: Stored(frozenset(d[b"FLAGS"]), d[b"BODY[]"]) for uid, d in data.items()}


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch, mail_user: ImapUser) -> str:
    monkeypatch.setenv(PASSWORD_ENV, mail_user.password)
    return mail_user.password


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


# -- intake: waiting for mail -----------------------------------------------------------------


def test_idle_picks_up_new_mail_within_a_second(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    recorder = Recorder()
    intake = ImapIntake(intake_config(dovecot, mail_user, poll_interval=600), recorder)
    latencies: list[float] = []
    with running(intake):
        wait_until(lambda: intake.health().mode == "idle", what="IDLE")
        time.sleep(0.3)
        for n in range(1, 6):
            append(dovecot, mail_user, message(f"latency {n}"))
            appended_at = time.monotonic()
            calls = recorder.wait_for(n, timeout=5)
            latencies.append(calls[-1].at - appended_at)
            time.sleep(0.2)
    # Dovecot itself announces a new message 0.3-0.6 s after APPEND, up to 1.5 s on a
    # loaded machine; the connector adds milliseconds.
    assert statistics.median(latencies) < 1.0, latencies
    assert max(latencies) < 3.0, latencies


def test_mail_arriving_just_before_idle_starts_is_not_missed(
    dovecot: DovecotServer, mail_user: ImapUser, password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dovecot does not announce, during an IDLE, a message that arrived between the
    client's last command and the IDLE (it notices tens of seconds later)."""
    original = IMAPClient.idle
    sneaked: list[float] = []

    def idle_after_a_delivery(self: IMAPClient) -> Any:
        if not sneaked:
            append(dovecot, mail_user, message("just before IDLE"))
            sneaked.append(time.monotonic())
        return original(self)

    monkeypatch.setattr(IMAPClient, "idle", idle_after_a_delivery)
    recorder = Recorder()
    with running(ImapIntake(intake_config(dovecot, mail_user), recorder)):
        [call] = recorder.wait_for(1, timeout=8)
    assert call.at - sneaked[0] < 2.5


def test_idle_is_renewed(dovecot: DovecotServer, mail_user: ImapUser, password: str) -> None:
    recorder = Recorder()
    intake = ImapIntake(intake_config(dovecot, mail_user, idle_timeout=1), recorder)
    with running(intake):
        wait_until(lambda: intake.health().mode == "idle", what="IDLE")
        time.sleep(1.6)  # past a renewal
        append(dovecot, mail_user, message("after renewals"))
        appended_at = time.monotonic()
        [call] = recorder.wait_for(1)
        assert call.at - appended_at < 1.5
        assert intake.health().last_error == ""
    assert dovecot.log_text().count(f"imap({mail_user.name})") >= 1


def test_polling_when_idle_is_off(dovecot: DovecotServer, mail_user: ImapUser, password: str) -> None:
    recorder = Recorder()
    intake = ImapIntake(intake_config(dovecot, mail_user, idle=False, poll_interval=0.3), recorder)
    with running(intake):
        wait_until(lambda: intake.health().connected, what="connected")
        assert intake.health().mode == "poll"
        first_poll = intake.health().last_poll
        append(dovecot, mail_user, message("polled"))
        appended_at = time.monotonic()
        [call] = recorder.wait_for(1)
        assert call.at - appended_at < 1.5
        later_poll = intake.health().last_poll
    assert first_poll is not None and later_poll is not None and later_poll > first_poll


def test_server_without_idle_and_move() -> None:
    """Polling when IDLE is not offered; COPY + \\Deleted + UID EXPUNGE when MOVE is not."""
    from tests.servers.fixtures import require_dovecot

    require_dovecot()
    with DovecotServer(imap_capability="IMAP4rev1 LITERAL+ UIDPLUS") as server:
        user = server.add_user()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(PASSWORD_ENV, user.password)
            raw = message("old server")
            append(server, user, raw)
            append(server, user, message("another"))
            recorder = Recorder()
            intake = ImapIntake(intake_config(server, user, poll_interval=0.3), recorder)
            with running(intake):
                recorder.wait_for(2)
                wait_until(lambda: len(contents(server, user, "Faxed")) == 2, what="copied to Faxed")
                wait_until(lambda: contents(server, user) == {}, what="expunged from INBOX")
                assert intake.health().mode == "poll"
        assert recorder.calls[0].raw == raw


# -- intake: connection loss and stopping -----------------------------------------------------------


def test_reconnects_after_the_server_restarts(
    private_dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = private_dovecot
    user = server.add_user()
    monkeypatch.setenv(PASSWORD_ENV, user.password)
    recorder = Recorder()
    intake = ImapIntake(intake_config(server, user), recorder, backoff_start=0.2)
    with running(intake):
        append(server, user, message("before restart"))
        recorder.wait_for(1)
        wait_until(lambda: contents(server, user, "Faxed"), what="the first message moved")
        uidvalidity = intake.health().uidvalidity
        server.stop()
        wait_until(lambda: not intake.health().connected, what="the loss noticed")
        server.start()
        append(server, user, message("after restart"))
        calls = recorder.wait_for(2, timeout=10)
        health = intake.health()
    assert health.last_error != "" and health.uidvalidity == uidvalidity and health.connected
    assert len(calls) == 2 and calls[1].ref.uidvalidity == uidvalidity and calls[1].ref.uid > calls[0].ref.uid
    assert len(contents(server, user, "Faxed")) == 2


def test_stop_is_prompt_while_idling(dovecot: DovecotServer, mail_user: ImapUser, password: str) -> None:
    intake = ImapIntake(intake_config(dovecot, mail_user, idle_timeout=600), Recorder())
    intake.start()
    wait_until(lambda: intake.health().mode == "idle", what="IDLE")
    time.sleep(0.3)
    started = time.monotonic()
    intake.stop()
    assert time.monotonic() - started < 2.0
    assert not intake.running and not intake.health().connected


def test_stop_is_prompt_while_polling_and_backing_off(
    dovecot: DovecotServer, mail_user: ImapUser, password: str
) -> None:
    polling = ImapIntake(intake_config(dovecot, mail_user, idle=False, poll_interval=600), Recorder())
    nowhere = ImapIntake(
        intake_config(dovecot, mail_user, port=free_port(), reconnect_max=600), Recorder(), backoff_start=300
    )
    polling.start()
    nowhere.start()
    wait_until(lambda: polling.health().connected, what="connected")
    wait_until(lambda: "refused" in nowhere.health().last_error, what="connection refused")
    for intake in (polling, nowhere):
        started = time.monotonic()
        intake.stop()
        assert time.monotonic() - started < 2.0
        assert not intake.running


def test_move_into_the_watched_folder_is_a_config_error(dovecot: DovecotServer, mail_user: ImapUser) -> None:
    with pytest.raises(ConfigError, match="processed_folder"):
        ImapIntake(intake_config(dovecot, mail_user, processed_folder="inbox"), Recorder())


# -- delivery ------------------------------------------------------------------------------------


def delivery_config(server: DovecotServer, **overrides: Any) -> ImapDeliveryConfig:
    data: dict[str, Any] = {
        "host": server.host,
        "port": server.tls_port,
        "tls": "implicit",
        "ca_file": server.ca_file,
        "username": server.master_user,
        "password_env": ADMIN_ENV,
        "act_as_user": True,
    }
    if overrides.get("tls") == "starttls":
        data["port"] = server.port
    data.update(overrides)
    return ImapDeliveryConfig.model_validate(data)


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch, dovecot: DovecotServer) -> str:
    monkeypatch.setenv(ADMIN_ENV, dovecot.master_password)
    return dovecot.master_password


def test_delivery_appends_into_the_users_inbox_as_the_master_user(
    dovecot: DovecotServer, mail_user: ImapUser, admin: str
) -> None:
    raw = message("Fax from +1 212 555 0110")
    appended = ImapDelivery(delivery_config(dovecot)).deliver(mail_user.email, raw, flags=["$Fax"])
    assert appended is not None
    inbox = contents(dovecot, mail_user)  # the user's own login sees it
    assert list(inbox) == [appended.uid]
    assert inbox[appended.uid].raw == raw
    assert b"$Fax" in inbox[appended.uid].flags and SEEN not in inbox[appended.uid].flags
    with dovecot.client(mail_user) as imap:
        assert imap.select_folder("INBOX")[b"UIDVALIDITY"] == appended.uidvalidity


def test_delivery_creates_the_folder_over_starttls(
    dovecot: DovecotServer, mail_user: ImapUser, admin: str
) -> None:
    delivery = ImapDelivery(delivery_config(dovecot, tls="starttls"))
    first = delivery.deliver(mail_user.email, message("one"), folder="Faxes/Received")
    second = delivery.deliver(mail_user.email, message("two"), folder="Faxes/Received", flags=[SEEN.decode()])
    assert first is not None and second is not None and second.uid > first.uid
    stored = contents(dovecot, mail_user, "Faxes/Received")
    assert len(stored) == 2 and SEEN in stored[second.uid].flags
    assert contents(dovecot, mail_user) == {}


def test_delivery_from_many_threads(dovecot: DovecotServer, mail_user: ImapUser, admin: str) -> None:
    delivery = ImapDelivery(delivery_config(dovecot))
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        try:
            delivery.deliver(mail_user.email, message(f"thread {n}"), folder="Faxes")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert len(contents(dovecot, mail_user, "Faxes")) == 6


def test_delivery_errors_are_plain(
    dovecot: DovecotServer, mail_user: ImapUser, admin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConnectorError, match="refused") as info:
        ImapDelivery(delivery_config(dovecot)).deliver("nobody-here@example.test", message())
    assert admin not in str(info.value)
    monkeypatch.setenv(ADMIN_ENV, "wrong-" + admin)
    with pytest.raises(ConnectorError, match="refused") as info:
        ImapDelivery(delivery_config(dovecot)).deliver(mail_user.email, message())
    assert admin not in str(info.value)
    monkeypatch.setenv(ADMIN_ENV, admin)
    other = make_ca(tmp_path, "not the server's CA")
    with pytest.raises(ConnectorError, match="certificate not trusted"):
        ImapDelivery(delivery_config(dovecot, ca_file=other.cert_file)).deliver(mail_user.email, message())
    assert contents(dovecot, mail_user) == {}


def test_delivery_as_the_user_itself(
    dovecot: DovecotServer, mail_user: ImapUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ADMIN_ENV, mail_user.password)
    config = delivery_config(dovecot, username="unused", act_as_user=False)
    raw = message("own login")
    assert ImapDelivery(config).deliver(mail_user.email, raw) is not None
    assert [s.raw for s in contents(dovecot, mail_user).values()] == [raw]


# -- the server fixture itself ---------------------------------------------------------------------


def test_only_the_master_user_may_act_as_another(dovecot: DovecotServer) -> None:
    alice, bob = dovecot.add_user(), dovecot.add_user()
    with dovecot.master_client(bob) as imap:
        imap.select_folder("INBOX")
    imap = dovecot.client()
    try:
        with pytest.raises(Exception, match="AUTHENTICATIONFAILED"):
            imap.plain_login(alice.name, alice.password, authorization_identity=bob.name)
    finally:
        imap.shutdown()
