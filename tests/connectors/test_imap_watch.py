"""ImapIntake against a real Dovecot: waiting for mail (IDLE, polling), connection loss and
stopping.  ``accept`` is a recording function (tests/connectors/imap_helpers.py)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from imapclient import IMAPClient

from connectors.imap import ImapIntake
from tests.connectors.imap_helpers import (
    PASSWORD_ENV,
    Recorder,
    append,
    contents,
    intake_config,
    message,
    running,
    wait_until,
)
from tests.servers.dovecot import DovecotServer, ImapUser
from tests.servers.ports import free_port
from umfax.errors import ConfigError

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
