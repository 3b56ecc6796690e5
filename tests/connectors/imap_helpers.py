"""Shared pieces of the IMAP connector tests (test_imap_*.py): a test message, a recording
``accept``, configs, and direct looks into the Dovecot mailbox."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.imap import AppendUid, ImapIntake
from tests.servers.dovecot import DovecotServer, ImapUser
from umfax.config import ImapConnectorConfig
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
